package org.flinkops.examples;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * A long-running stateful streaming job for savepoint/restore tests.
 *
 * <p>A sequence source (0, 1, 2, ...) throttled to {@code --rate} records per second (default 20),
 * keyed by {@code seq % keys} ({@code --keys}, default 4); a keyed ValueState counts the records of
 * each key. Every record yields {@code key=<k> count=<c> seq=<s>} on stdout and, with
 * {@code --out DIR}, appended and flushed to DIR/part-SUBTASK.txt. After a restore from a
 * savepoint the counts go on; a count of 1 for a key seen before means state was lost.
 *
 * <p>Options: --rate N, --keys N, --out DIR, --checkpoint-interval-ms N (default 5000; 0 = off),
 * --max N (last sequence number, default unbounded in practice: Long.MAX_VALUE).
 * Stable operator uids: flinkops-sequence-source, flinkops-throttle, flinkops-counter.
 */
public final class StatefulCounter {

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        long rate = args.getLong("rate", 20);
        long keys = Math.max(1, args.getLong("keys", 4));
        long interval = args.getLong("checkpoint-interval-ms", 5000);
        long max = args.getLong("max", Long.MAX_VALUE);
        String out = args.get("out", null);

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        if (interval > 0) {
            env.enableCheckpointing(interval);
        }

        env.fromSequence(0, max)
                .uid("flinkops-sequence-source")
                .name("sequence")
                .map(new Throttle(rate))
                .uid("flinkops-throttle")
                .name("throttle " + rate + "/s")
                .keyBy(new ModKey(keys))
                .process(new Counter(out))
                .uid("flinkops-counter")
                .name("count per key")
                .print()
                .uid("flinkops-print")
                .name("stdout");

        env.execute("StatefulCounter");
    }

    /** seq % keys. */
    static final class ModKey implements KeySelector<Long, Long> {
        private static final long serialVersionUID = 1L;
        private final long keys;

        ModKey(long keys) {
            this.keys = keys;
        }

        @Override
        public Long getKey(Long seq) {
            return seq % keys;
        }
    }

    /** Counts records per key in a ValueState. */
    static final class Counter extends KeyedProcessFunction<Long, Long, String> {
        private static final long serialVersionUID = 1L;
        private final String outDir;
        private transient ValueState<Long> count;
        private transient PartFileWriter writer;

        Counter(String outDir) {
            this.outDir = outDir;
        }

        @Override
        public void open(OpenContext openContext) throws Exception {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            if (outDir != null) {
                writer = new PartFileWriter(outDir, getRuntimeContext().getTaskInfo().getIndexOfThisSubtask());
            }
        }

        @Override
        public void processElement(Long seq, Context ctx, Collector<String> collector) throws Exception {
            Long c = count.value();
            long next = c == null ? 1 : c + 1;
            count.update(next);
            String line = "key=" + ctx.getCurrentKey() + " count=" + next + " seq=" + seq;
            if (writer != null) {
                writer.writeLine(line);
            }
            collector.collect(line);
        }

        @Override
        public void close() throws Exception {
            if (writer != null) {
                writer.close();
            }
        }
    }
}
