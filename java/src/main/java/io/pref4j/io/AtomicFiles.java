package io.pref4j.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * Durable file operations: fsynced writes, atomic replacement (temporary file beside the
 * target, fsync, rename, fsync of the folder: a crash leaves the old file or the new one,
 * never a mix), recursive deletion. Every pref4j output that must survive a crash goes
 * through here.
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Writes a file's contents to an open channel. */
    @FunctionalInterface
    public interface ChannelWriter {
        void write(FileChannel ch) throws IOException;
    }

    /** Writes {@code bytes} to {@code file} (created or truncated) and fsyncs it. */
    public static void writeSynced(Path file, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            writeFully(ch, ByteBuffer.wrap(bytes));
            ch.force(true);
        }
    }

    /** Writes all of b to the channel. */
    public static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    /**
     * Replaces {@code file} atomically: a temporary file in the same folder, fsynced, then
     * renamed over the target; the folder is fsynced after.
     */
    public static void replace(Path file, byte[] bytes) throws IOException {
        replace(file, ch -> writeFully(ch, ByteBuffer.wrap(bytes)));
    }

    /** {@link #replace(Path, byte[])} with the contents written by {@code writer}. */
    public static void replace(Path file, ChannelWriter writer) throws IOException {
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        Path tmp = tempBeside(abs);
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                writer.write(ch);
                ch.force(true);
            }
            move(tmp, abs);
            tmp = null;
            fsyncDir(dir);
        } finally {
            if (tmp != null) Files.deleteIfExists(tmp);
        }
    }

    /**
     * A fresh name beside {@code file} for a temporary file ({@code .NAME.NONCE.tmp}); unlike
     * {@link Files#createTempFile} the file gets the usual permissions when created.
     */
    public static Path tempBeside(Path file) {
        return file.resolveSibling("." + file.getFileName() + "." + Long.toHexString(NONCE.incrementAndGet()) + ".tmp");
    }

    private static final java.util.concurrent.atomic.AtomicLong NONCE =
            new java.util.concurrent.atomic.AtomicLong(System.nanoTime() ^ ProcessHandle.current().pid() << 32);

    /** Atomic rename (replacing the target when it is a file). */
    public static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** fsync of a file's contents. */
    public static void fsync(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    /** fsync of a folder (its entries), where the platform allows it. */
    public static void fsyncDir(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // not every platform can fsync a directory
        }
    }

    /** Deletes a folder and everything in it; a missing folder is fine. */
    public static void deleteTree(Path p) throws IOException {
        if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
                for (Path c : ds) deleteTree(c);
            } catch (NoSuchFileException ignored) {
                return;
            }
        }
        Files.deleteIfExists(p);
    }

    /** CRC-32C of a file's bytes as 8 hex digits. */
    public static String crc32c(Path file) throws IOException {
        CRC32C crc = new CRC32C();
        byte[] buf = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(file)) {
            int n;
            while ((n = in.read(buf)) > 0) crc.update(buf, 0, n);
        }
        return String.format("%08x", crc.getValue());
    }
}
