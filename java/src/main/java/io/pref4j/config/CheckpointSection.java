package io.pref4j.config;

/** When checkpoints are written and how many are kept. */
@Doc("Checkpoints (atomic; a run resumes exactly from the newest).")
public record CheckpointSection(
        @Doc("Write a checkpoint every this many iterations (and after the last); 0 = only after the last.") int every,
        @Doc("Number of newest checkpoints kept; older ones are deleted once a new one is complete.") int keep) {

    public static CheckpointSection defaults() {
        return new CheckpointSection(50, 2);
    }

    void validate() {
        Check.atLeast("every", every, 0);
        Check.atLeast("keep", keep, 1);
    }
}
