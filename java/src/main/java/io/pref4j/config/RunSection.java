package io.pref4j.config;

import java.nio.file.Path;

/** Where a run writes, its seed and its compute device. */
@Doc("The run: its name, output folder, seed and device.")
public record RunSection(
        @Doc("Name of the run; the default output folder is runs/NAME.") String name,
        @Doc("Output folder (metrics.jsonl, plot, checkpoints, samples); null = runs/NAME.") @Nullable String out,
        @Doc("Seed of every random choice (initialisation, data order, sampling); a run is reproducible from it.") long seed,
        @Doc("Compute backend: auto = CUDA when a GPU and the kernel library load, else CPU.") Device device,
        @Doc("CPU worker threads; 0 = one per available core.") int threads) {

    /** The compute backend choice. */
    public enum Device { AUTO, CPU, CUDA }

    public static RunSection defaults() {
        return new RunSection("run", null, 1234L, Device.AUTO, 0);
    }

    /** The output folder: {@code out}, or {@code runs/NAME}. */
    public Path outDir() {
        return out != null ? Path.of(out) : Path.of("runs", name);
    }

    void validate() {
        Check.notBlank("name", name);
        Check.that(!name.contains("/") && !name.contains("\\"), "name",
                "must not contain path separators, got \"" + name + "\" (set run.out for a folder)");
        Check.that(out == null || !out.isBlank(), "out", "must not be empty (use null for runs/NAME)");
        Check.atLeast("threads", threads, 0);
    }
}
