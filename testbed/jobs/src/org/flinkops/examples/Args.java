package org.flinkops.examples;

import java.util.HashMap;
import java.util.Map;

/**
 * Minimal `--key value` / `--flag` parser. (ParameterTool moved packages between Flink 1.x and
 * 2.x, so the examples do not use it; the same source compiles against both.)
 */
final class Args {
    private final Map<String, String> values = new HashMap<>();

    Args(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument: " + a);
            }
            String key = a.substring(2);
            int eq = key.indexOf('=');
            if (eq >= 0) {
                values.put(key.substring(0, eq), key.substring(eq + 1));
            } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                values.put(key, args[++i]);
            } else {
                values.put(key, "true");
            }
        }
    }

    long getLong(String key, long def) {
        String v = values.get(key);
        return v == null ? def : Long.parseLong(v.trim());
    }

    String get(String key, String def) {
        String v = values.get(key);
        return v == null ? def : v;
    }
}
