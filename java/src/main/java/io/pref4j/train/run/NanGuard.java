package io.pref4j.train.run;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Stops a run at the first NaN or infinite loss or gradient norm, with a diagnostic:
 * <pre>
 * non-finite loss at step 57: NaN; last good values: loss 0.6812 (step 56), grad_norm 3.21 (step 56);
 * last checkpoint: runs/x/checkpoints/ckpt-000050 (kept); try a lower optim.lr, optim.clip &gt; 0 or a smaller loss.beta
 * </pre>
 * It remembers the last finite value of every quantity it checks and the last checkpoint
 * the engine reported.
 */
public final class NanGuard {

    /** A quantity's last finite value and its step. */
    public record Good(long step, double value) {
    }

    private final Map<String, Good> lastGood = new LinkedHashMap<>();
    private Path lastCheckpoint;

    /** Records the newest complete checkpoint (named in the diagnostic). */
    public void checkpointed(Path checkpoint) {
        this.lastCheckpoint = checkpoint;
    }

    /**
     * Checks one value; returns it when finite.
     *
     * @param quantity its name in messages and metrics ({@code loss}, {@code grad_norm})
     * @throws NonFiniteException when it is NaN or infinite
     */
    public double check(long step, String quantity, double value) {
        if (Double.isFinite(value)) {
            lastGood.put(quantity, new Good(step, value));
            return value;
        }
        StringBuilder sb = new StringBuilder();
        sb.append("non-finite ").append(quantity).append(" at step ").append(step).append(": ")
                .append(Double.isNaN(value) ? "NaN" : value > 0 ? "+Infinity" : "-Infinity");
        if (lastGood.isEmpty()) {
            sb.append("; no finite values before it");
        } else {
            sb.append("; last good values: ");
            String sep = "";
            for (Map.Entry<String, Good> e : lastGood.entrySet()) {
                sb.append(sep).append(e.getKey()).append(' ')
                        .append(String.format(Locale.ROOT, "%.6g", e.getValue().value()))
                        .append(" (step ").append(e.getValue().step()).append(')');
                sep = ", ";
            }
        }
        sb.append("; last checkpoint: ").append(lastCheckpoint == null ? "none yet" : lastCheckpoint + " (kept)");
        sb.append("; try a lower optim.lr, optim.clip > 0 or a smaller loss.beta");
        throw new NonFiniteException(sb.toString(), step, quantity, value, lastCheckpoint);
    }

    /** The last finite value of each quantity checked so far (insertion order). */
    public Map<String, Good> lastGood() {
        return java.util.Collections.unmodifiableMap(new LinkedHashMap<>(lastGood));
    }

    public Path lastCheckpoint() {
        return lastCheckpoint;
    }
}
