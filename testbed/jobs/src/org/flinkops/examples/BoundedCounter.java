package org.flinkops.examples;

import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.ReduceFunction;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * A bounded job that finishes within seconds: the numbers 1..N ({@code --n}, default 10000),
 * grouped by {@code n % keys} ({@code --keys}, default 4), counted and summed per key in BATCH
 * mode. Prints one line per key and a final {@code SUMMARY total count=N sum=S} line (stdout of
 * the TaskManager; with {@code --out DIR} also to DIR/part-SUBTASK.txt). The client prints the
 * expected summary after the job finished (attached mode).
 */
public final class BoundedCounter {

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        long n = Math.max(1, args.getLong("n", 10000));
        long keys = Math.max(1, args.getLong("keys", 4));
        String out = args.get("out", null);

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setRuntimeMode(RuntimeExecutionMode.BATCH);

        DataStream<Tuple3<Long, Long, Long>> perKey = env.fromSequence(1, n)
                .uid("flinkops-bounded-source")
                .name("1.." + n)
                .map(new ToTuple(keys))
                .returns(Types.TUPLE(Types.LONG, Types.LONG, Types.LONG))
                .keyBy(new Field0())
                .reduce(new Sum())
                .uid("flinkops-per-key")
                .name("count per key");
        perKey.map(new Report("key", out)).name("format per key").print().name("stdout per key");
        perKey.map(new Total())
                .returns(Types.TUPLE(Types.LONG, Types.LONG, Types.LONG))
                .keyBy(new Field0())
                .reduce(new Sum())
                .uid("flinkops-total")
                .name("total")
                .map(new Report("SUMMARY", out))
                .setParallelism(1)
                .name("format summary")
                .print()
                .setParallelism(1)
                .name("stdout summary");

        env.execute("BoundedCounter");
        System.out.println("BoundedCounter: expected SUMMARY total count=" + n + " sum=" + (n * (n + 1) / 2));
    }

    /** n -> (n % keys, 1, n). */
    static final class ToTuple implements MapFunction<Long, Tuple3<Long, Long, Long>> {
        private static final long serialVersionUID = 1L;
        private final long keys;

        ToTuple(long keys) {
            this.keys = keys;
        }

        @Override
        public Tuple3<Long, Long, Long> map(Long n) {
            return Tuple3.of(n % keys, 1L, n);
        }
    }

    /** (key, count, sum) -> (0, count, sum): one group for the grand total. */
    static final class Total implements MapFunction<Tuple3<Long, Long, Long>, Tuple3<Long, Long, Long>> {
        private static final long serialVersionUID = 1L;

        @Override
        public Tuple3<Long, Long, Long> map(Tuple3<Long, Long, Long> t) {
            return Tuple3.of(0L, t.f1, t.f2);
        }
    }

    static final class Field0 implements KeySelector<Tuple3<Long, Long, Long>, Long> {
        private static final long serialVersionUID = 1L;

        @Override
        public Long getKey(Tuple3<Long, Long, Long> t) {
            return t.f0;
        }
    }

    static final class Sum implements ReduceFunction<Tuple3<Long, Long, Long>> {
        private static final long serialVersionUID = 1L;

        @Override
        public Tuple3<Long, Long, Long> reduce(Tuple3<Long, Long, Long> a, Tuple3<Long, Long, Long> b) {
            return Tuple3.of(a.f0, a.f1 + b.f1, a.f2 + b.f2);
        }
    }

    /** Formats a result line (and optionally writes it to a file). */
    static final class Report extends RichMapFunction<Tuple3<Long, Long, Long>, String> {
        private static final long serialVersionUID = 1L;
        private final String label;
        private final String outDir;
        private transient PartFileWriter writer;

        Report(String label, String outDir) {
            this.label = label;
            this.outDir = outDir;
        }

        @Override
        public void open(OpenContext openContext) throws Exception {
            if (outDir != null) {
                writer = new PartFileWriter(outDir, getRuntimeContext().getTaskInfo().getIndexOfThisSubtask());
            }
        }

        @Override
        public String map(Tuple3<Long, Long, Long> t) throws Exception {
            String line = "SUMMARY".equals(label)
                    ? "SUMMARY total count=" + t.f1 + " sum=" + t.f2
                    : "key=" + t.f0 + " count=" + t.f1 + " sum=" + t.f2;
            if (writer != null) {
                writer.writeLine(line);
            }
            return line;
        }

        @Override
        public void close() throws Exception {
            if (writer != null) {
                writer.close();
            }
        }
    }
}
