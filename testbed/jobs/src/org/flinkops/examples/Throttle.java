package org.flinkops.examples;

import java.util.concurrent.locks.LockSupport;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;

/**
 * Passes records through at most {@code ratePerSecond} records per second in total (split over
 * the parallel subtasks). Chained to the source, it slows the source down.
 */
final class Throttle extends RichMapFunction<Long, Long> {
    private static final long serialVersionUID = 1L;
    private final double ratePerSecond;
    private transient long intervalNanos;
    private transient long next;

    Throttle(double ratePerSecond) {
        this.ratePerSecond = ratePerSecond;
    }

    @Override
    public void open(OpenContext openContext) {
        int parallelism = getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks();
        intervalNanos = ratePerSecond <= 0 ? 0 : (long) (1_000_000_000L * parallelism / ratePerSecond);
        next = System.nanoTime();
    }

    @Override
    public Long map(Long value) {
        if (intervalNanos > 0) {
            long now = System.nanoTime();
            if (next > now) {
                LockSupport.parkNanos(next - now);
            } else if (now - next > 1_000_000_000L) {
                next = now; // do not burst after a pause (e.g. back pressure or restore)
            }
            next += intervalNanos;
        }
        return value;
    }
}
