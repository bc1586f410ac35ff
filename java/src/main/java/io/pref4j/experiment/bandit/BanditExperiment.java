package io.pref4j.experiment.bandit;

import io.pref4j.kernel.Kernels;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;

/**
 * The two bandit experiments over seeds, at a {@link Size}: builds the settings, runs each
 * (setting, reward, seed) from that seed's shared initial policy, and fills a
 * {@link BanditReport}.
 */
public final class BanditExperiment {
    private BanditExperiment() {}

    // ---------------------------------------------------------------- categorical (SPEC 6.1)

    /** On-policy rounds (10 states × N = 10 per round) by size. */
    static int categoricalRounds(Size s) {
        return switch (s) { case QUICK -> 10; case DEFAULT -> 100; case FULL -> 300; };
    }

    /** Offline dataset sizes in states (× N = 10 responses) by size. */
    static int[] categoricalOfflineStates(Size s) {
        return switch (s) {
            case QUICK -> new int[]{100};
            case DEFAULT -> new int[]{5, 100, 1000};
            case FULL -> new int[]{5, 100, 1000, 3000};
        };
    }

    /** Gradient steps (= rounds at T = 1) of the reuse ablation by size; 0 = skipped. */
    static int categoricalReuseSteps(Size s) {
        return switch (s) { case QUICK -> 0; case DEFAULT -> 300; case FULL -> 1500; };
    }

    static final int[] REUSE = {1, 2, 5, 10};

    /** Every setting of the categorical bandit at this size. */
    public static List<BanditMethod> categoricalSettings(Size size) {
        List<BanditMethod> out = new ArrayList<>(Methods.categoricalOnline(categoricalRounds(size)));
        out.addAll(Methods.categoricalOffline(categoricalOfflineStates(size)));
        int rs = categoricalReuseSteps(size);
        if (rs > 0) {
            List<BanditMethod> on = Methods.categoricalOnline(rs);
            List<BanditMethod> bases = on.stream()
                    .filter(m -> m.family().equals("onpolicy-bon") || m.family().equals("onpolicy-ipo")).toList();
            out.addAll(Methods.reuse(bases, rs, REUSE));
        }
        return out;
    }

    public static BanditReport runCategorical(Kernels k, Size size, long firstSeed, int seeds,
                                              Predicate<BanditMethod> filter, PrintStream log) {
        List<BanditMethod> settings = categoricalSettings(size).stream().filter(filter).toList();
        if (settings.isEmpty()) throw new io.pref4j.UserInputException("no bandit setting matches the filter");
        int maxStates = settings.stream().mapToInt(BanditMethod::states).max().orElse(10);
        List<Long> seedList = seeds(firstSeed, seeds);
        BanditReport rep = new BanditReport("bandit", size, seedList);
        double[] er1 = new double[seeds], er2 = new double[seeds], klb = new double[seeds], kla = new double[seeds];
        double[] i1 = new double[seeds], i2 = new double[seeds];
        for (int si = 0; si < seeds; si++) {
            long seed = seedList.get(si);
            long t0 = System.nanoTime();
            CategoricalBandit b = new CategoricalBandit(k, seed, CategoricalBandit.Setup.standard(maxStates));
            er1[si] = b.ref().expectation(Reward.R1::of);
            er2[si] = b.ref().expectation(Reward.R2::of);
            klb[si] = b.klBeforeInit();
            kla[si] = b.klAfterInit();
            i1[si] = b.initialReward(Reward.R1);
            i2[si] = b.initialReward(Reward.R2);
            log.printf(Locale.ROOT, "bandit: seed %d: E_ref[R1] = %.4f, E_ref[R2] = %.4f; KL(pi||pi_ref) %.4f -> %.6f after %d Adam steps (%.1fs)%n",
                    seed, er1[si], er2[si], klb[si], kla[si], 100, (System.nanoTime() - t0) / 1e9);
            for (Reward rw : Reward.values()) {
                for (BanditMethod m : settings) {
                    RunResult r = b.run(m, rw);
                    rep.add(r);
                    log.printf(Locale.ROOT, "bandit: seed %d %-22s %s queries %6d reward %.3f (%.1fs)%n",
                            seed, m.name(), rw, m.queries(), r.finalReward(), r.wallSeconds());
                }
            }
        }
        rep.info("e_ref_r1_per_seed", er1);
        rep.info("e_ref_r2_per_seed", er2);
        rep.info("initial_reward_r1_per_seed", i1);
        rep.info("initial_reward_r2_per_seed", i2);
        rep.info("kl_before_init_per_seed", klb);
        rep.info("kl_after_init_per_seed", kla);
        rep.info("evaluation", "mean over 100 held-out states of the exact expected reward sum_a pi(a|x) R(a)");
        return rep;
    }

    // ---------------------------------------------------------------- sequence (SPEC 6.2)

    record SeqSize(int rounds, int steps, int offlineSteps, int offlinePrompts, int evalEvery, int evalSamples,
                   int klPrefixes, int klSteps) {}

    static SeqSize seqSize(Size s) {
        return switch (s) {
            // rounds × 10 prompts × N = 10 queries on-policy; offline: offlinePrompts × 10 from π_ref
            case QUICK -> new SeqSize(4, 2, 8, 8, 2, 1, 1, 30);
            case DEFAULT -> new SeqSize(20, 5, 100, 200, 5, 2, 2, 100);
            case FULL -> new SeqSize(100, 15, 1500, 1000, 10, 4, 4, 100);
        };
    }

    /** The sequence bandit's settings at this size. */
    public static List<BanditMethod> sequenceSettings(Size size) {
        SeqSize z = seqSize(size);
        List<BanditMethod> out = new ArrayList<>();
        out.add(seqOnline("onpolicy-ipo", Methods.ipo(10), 0.01f, z));
        out.add(seqOnline("onpolicy-bon", Methods.loss("bon"), 3e-5f, z));
        out.add(seqOnline("onpolicy-bon-lr1e-3", Methods.loss("bon"), 1e-3f, z));
        out.add(seqOffline("offline-ipo", Methods.ipo(10), 0.003f, z));
        out.add(seqOffline("offline-bon", Methods.loss("bon"), 1e-3f, z));
        return out;
    }

    private static BanditMethod seqOnline(String name, io.pref4j.loss.LossConfig loss, float lr, SeqSize z) {
        return new BanditMethod(name, name, "main", loss, Methods.PAIR_THRESHOLD, true, lr, 10, Methods.N, z.rounds(), z.steps(), 1);
    }

    private static BanditMethod seqOffline(String name, io.pref4j.loss.LossConfig loss, float lr, SeqSize z) {
        return new BanditMethod(name, name, "main", loss, Methods.PAIR_THRESHOLD, false, lr, z.offlinePrompts(), Methods.N,
                1, z.offlineSteps(), 1);
    }

    public static BanditReport runSequence(Kernels k, Size size, long firstSeed, int seeds,
                                           Predicate<BanditMethod> filter, PrintStream log) {
        SeqSize z = seqSize(size);
        List<BanditMethod> settings = sequenceSettings(size).stream().filter(filter).toList();
        if (settings.isEmpty()) throw new io.pref4j.UserInputException("no seq-bandit setting matches the filter");
        int maxStates = settings.stream().mapToInt(BanditMethod::states).max().orElse(10);
        List<Long> seedList = seeds(firstSeed, seeds);
        BanditReport rep = new BanditReport("seq-bandit", size, seedList);
        double[] klb = new double[seeds], kla = new double[seeds], i1 = new double[seeds], i2 = new double[seeds];
        for (int si = 0; si < seeds; si++) {
            long seed = seedList.get(si);
            long t0 = System.nanoTime();
            SequenceBandit b = new SequenceBandit(k, seed,
                    new SequenceBandit.Setup(100, z.evalSamples(), z.klPrefixes(), z.klSteps(), 0.01f, 400), maxStates);
            klb[si] = b.klBeforeInit();
            kla[si] = b.klAfterInit();
            i1[si] = b.initialReward(Reward.R1);
            i2[si] = b.initialReward(Reward.R2);
            log.printf(Locale.ROOT, "seq-bandit: seed %d: per-position KL %.4f -> %.5f after %d Adam steps; initial reward R1 %.3f, R2 %.3f (%.1fs)%n",
                    seed, klb[si], kla[si], z.klSteps(), i1[si], i2[si], (System.nanoTime() - t0) / 1e9);
            for (Reward rw : Reward.values()) {
                for (BanditMethod m : settings) {
                    int every = m.online() ? z.evalEvery() : Math.max(1, m.stepsPerRound() / 4);
                    RunResult r = b.run(m, rw, every);
                    rep.add(r);
                    log.printf(Locale.ROOT, "seq-bandit: seed %d %-20s %s queries %6d reward %.3f (%.1fs)%n",
                            seed, m.name(), rw, m.queries(), r.finalReward(), r.wallSeconds());
                }
            }
        }
        rep.info("kl_before_init_per_seed", klb);
        rep.info("kl_after_init_per_seed", kla);
        rep.info("initial_reward_r1_per_seed", i1);
        rep.info("initial_reward_r2_per_seed", i2);
        rep.info("evaluation", "mean reward of " + z.evalSamples() + " samples (temperature 1) on each of 100 held-out prompts");
        return rep;
    }

    static List<Long> seeds(long first, int n) {
        if (n < 1) throw new io.pref4j.UserInputException("--seeds must be >= 1, got " + n);
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(first + i);
        return out;
    }

    /** Writes summary.json and the plots into dir and prints the table. */
    public static void write(BanditReport rep, Path dir, String prefix, PrintStream out) {
        rep.writeSummary(dir.resolve("summary.json"));
        List<Path> plots = rep.writePlots(dir, prefix);
        out.println();
        rep.printTable(out);
        out.println();
        out.println("wrote " + dir.resolve("summary.json") + " and " + plots.size() + " plots in " + dir);
    }
}
