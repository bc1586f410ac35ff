package io.pref4j.experiment.bandit;

/** How big a bandit experiment runs: CI size, the default (minutes on 2 cores), or the full grid. */
public enum Size {
    QUICK, DEFAULT, FULL;

    public String key() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
