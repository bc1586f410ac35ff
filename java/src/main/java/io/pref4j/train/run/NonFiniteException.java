package io.pref4j.train.run;

import java.nio.file.Path;

/**
 * A NaN or infinite loss or gradient norm (from {@link NanGuard}). The engine catches it,
 * keeps the last good checkpoint (it writes nothing more), prints the message and exits
 * with {@link #EXIT_STATUS}.
 */
public final class NonFiniteException extends RuntimeException {

    /** The process exit status for a run stopped by a non-finite value. */
    public static final int EXIT_STATUS = 3;

    private final long step;
    private final String quantity;
    private final double value;
    private final Path lastCheckpoint;

    NonFiniteException(String message, long step, String quantity, double value, Path lastCheckpoint) {
        super(message);
        this.step = step;
        this.quantity = quantity;
        this.value = value;
        this.lastCheckpoint = lastCheckpoint;
    }

    public long step() {
        return step;
    }

    /** The quantity that was not finite ({@code loss}, {@code grad_norm}, ...). */
    public String quantity() {
        return quantity;
    }

    public double value() {
        return value;
    }

    /** The newest complete checkpoint, or null when the run had none yet. */
    public Path lastCheckpoint() {
        return lastCheckpoint;
    }
}
