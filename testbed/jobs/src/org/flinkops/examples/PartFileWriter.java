package org.flinkops.examples;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;

/** Appends lines to DIR/part-SUBTASK.txt and flushes each one, so a test can read them at once. */
final class PartFileWriter implements AutoCloseable {
    private final OutputStream out;

    PartFileWriter(String dir, int subtask) throws IOException {
        Path d = Paths.get(dir);
        Files.createDirectories(d);
        out = Files.newOutputStream(d.resolve("part-" + subtask + ".txt"),
                StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    }

    void writeLine(String line) throws IOException {
        out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
