package io.pref4j.config;

/** OPTune's partial regeneration (SPEC §3). */
@Doc("OPTune: keep each prompt's responses across iterations and regenerate only a fraction ρ of them.")
public record OptuneSection(
        @Doc("Turn OPTune on (use it with loss.type = wdpo).") boolean enabled,
        @Doc("ρ: fraction of the prompt batch regenerated each iteration (⌈ρ·B⌉ prompts).") double rho,
        @Doc("Which prompts are regenerated: lowest = lowest reward, random, or all.") Selection selection,
        @Doc("Reward that ranks prompts: chosen = the chosen response's; mean = mean of chosen and rejected.") RankBy rankBy) {

    /** Which prompts get fresh responses. */
    public enum Selection { LOWEST, RANDOM, ALL }

    /** The reward prompts are ranked by. */
    public enum RankBy { CHOSEN, MEAN }

    public static OptuneSection defaults() {
        return new OptuneSection(false, 1.0, Selection.LOWEST, RankBy.CHOSEN);
    }

    void validate() {
        Check.openClosed("rho", rho, 0, 1);
    }
}
