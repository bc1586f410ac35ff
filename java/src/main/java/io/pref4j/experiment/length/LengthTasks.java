package io.pref4j.experiment.length;

import io.pref4j.model.CausalLm;
import io.pref4j.io.TokenizedPair;
import io.pref4j.reward.LengthRewards;
import io.pref4j.sample.Generator;
import io.pref4j.text.Tokenizer;
import io.pref4j.train.Engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The three length tasks of Tajwar et al. (SPEC §6.3) and their preference datasets: pairs
 * of responses sampled from π_ref, relabelled by the task's gold (length) reward.
 * <ul>
 *   <li>{@link Task#MIN}: r = −len(y), the shorter response is preferred;</li>
 *   <li>{@link Task#MODE}: r = −|len(y) − mode|, mode = π_ref's most frequent response length;
 *       the response closer to the mode is preferred;</li>
 *   <li>{@link Task#SKEW}: Min Length, but every response of the dataset is first truncated to
 *       a random fraction in [{@value #SKEW_LO}, {@value #SKEW_HI}] of its tokens, so the data
 *       barely overlap π_ref's responses (short, and cut mid-word without the final period).</li>
 * </ul>
 * Pairs whose two responses have equal gold reward are dropped. Lengths are in tokens
 * (bytes), end-of-text excluded.
 */
public final class LengthTasks {
    private LengthTasks() {}

    /** Truncation fractions of Skew Length. */
    public static final double SKEW_LO = 0.15, SKEW_HI = 0.35;

    /** A length task. */
    public enum Task {
        MIN("min"), MODE("mode"), SKEW("skew");

        public final String id;

        Task(String id) { this.id = id; }

        public static Task of(String s) {
            for (Task t : values()) if (t.id.equalsIgnoreCase(s) || t.name().equalsIgnoreCase(s)) return t;
            throw new io.pref4j.UserInputException("unknown task " + s + " (min, mode or skew)");
        }

        /** The gold reward of a response of len tokens (mode used by MODE only). */
        public double gold(int len, int mode) {
            return this == MODE ? -Math.abs(len - mode) : -len;
        }
    }

    /** Two responses (token ids, end-of-text excluded) sampled from π_ref for one prompt. */
    public record Sampled(Engine.Prompt prompt, int[] a, int[] b) {}

    /** A labelled pair (token ids, end-of-text excluded). */
    public record Pair(Engine.Prompt prompt, int[] chosen, int[] rejected) {
        public TokenizedPair tokenized() { return new TokenizedPair(prompt.ids(), chosen, rejected); }

        public Engine.OfflinePair offline(Tokenizer tok) {
            return new Engine.OfflinePair(prompt, tok.decode(chosen), chosen, tok.decode(rejected), rejected);
        }
    }

    /** The pair labelled by the task's gold reward, or null when both responses have the same reward. */
    public static Pair relabel(Task task, Engine.Prompt prompt, int[] a, int[] b, int mode) {
        double ra = task.gold(a.length, mode), rb = task.gold(b.length, mode);
        if (ra == rb) return null;
        return ra > rb ? new Pair(prompt, a, b) : new Pair(prompt, b, a);
    }

    /** The first max(1, round(fraction·len)) tokens (all of an empty response). */
    public static int[] truncate(int[] ids, double fraction) {
        if (!(fraction > 0 && fraction <= 1)) throw new IllegalArgumentException("fraction must be in (0, 1], got " + fraction);
        if (ids.length == 0) return ids;
        return Arrays.copyOf(ids, Math.max(1, (int) Math.round(fraction * ids.length)));
    }

    /**
     * The task's preference dataset from π_ref samples (Skew truncates each response first,
     * with fractions drawn from the seed), ties dropped.
     */
    public static List<Pair> dataset(Task task, List<Sampled> samples, int mode, long seed) {
        SplittableRandom rng = new SplittableRandom(seed ^ 0x5CE3L);
        List<Pair> out = new ArrayList<>();
        for (Sampled s : samples) {
            int[] a = s.a(), b = s.b();
            if (task == Task.SKEW) {
                a = truncate(a, SKEW_LO + (SKEW_HI - SKEW_LO) * rng.nextDouble());
                b = truncate(b, SKEW_LO + (SKEW_HI - SKEW_LO) * rng.nextDouble());
            }
            Pair p = relabel(task, s.prompt(), a, b, mode);
            if (p != null) out.add(p);
        }
        return out;
    }

    /** The mode of π_ref's response lengths over the samples (both responses of each). */
    public static int mode(List<Sampled> samples) {
        return LengthRewards.mode(lengths(samples));
    }

    /** Lengths of every sampled response. */
    public static int[] lengths(List<Sampled> samples) {
        int[] l = new int[2 * samples.size()];
        for (int i = 0; i < samples.size(); i++) {
            l[2 * i] = samples.get(i).a().length;
            l[2 * i + 1] = samples.get(i).b().length;
        }
        return l;
    }

    /** Lengths of every response of the pairs. */
    public static int[] pairLengths(List<Pair> pairs) {
        int[] l = new int[2 * pairs.size()];
        for (int i = 0; i < pairs.size(); i++) {
            l[2 * i] = pairs.get(i).chosen().length;
            l[2 * i + 1] = pairs.get(i).rejected().length;
        }
        return l;
    }

    /** Overlap coefficient Σ_l min(p(l), q(l)) of two length histograms (1 = same distribution, 0 = disjoint). */
    public static double overlap(int[] p, int[] q) {
        if (p.length == 0 || q.length == 0) return 0;
        int max = 0;
        for (int x : p) max = Math.max(max, x);
        for (int x : q) max = Math.max(max, x);
        double[] hp = new double[max + 1], hq = new double[max + 1];
        for (int x : p) hp[x] += 1.0 / p.length;
        for (int x : q) hq[x] += 1.0 / q.length;
        double s = 0;
        for (int i = 0; i <= max; i++) s += Math.min(hp[i], hq[i]);
        return s;
    }

    /**
     * n pairs of responses sampled from the model (temperature 1, no filtering) for prompts
     * taken round-robin from the pool, in batches of the model's batch size.
     */
    public static List<Sampled> sample(CausalLm model, Tokenizer tok, List<Engine.Prompt> prompts, int n, int maxNew, long seed) {
        List<Sampled> out = new ArrayList<>(n);
        Generator gen = new Generator(model);
        int rows = model.maxBatch() - model.maxBatch() % 2;
        int[][] all = new int[2 * n][];
        for (int i = 0; i < n; i++) all[2 * i] = all[2 * i + 1] = prompts.get(i % prompts.size()).ids();
        List<int[]> got = new ArrayList<>(2 * n);
        for (int start = 0; start < all.length; start += rows) {
            int[][] batch = Arrays.copyOfRange(all, start, Math.min(all.length, start + rows));
            Generator.Sample[] s = gen.generate(batch, new Generator.Options(maxNew, 1f, 0, 1f, tok.eosId(), seed * 1_000_003L + start));
            for (Generator.Sample x : s) got.add(content(x));
        }
        for (int i = 0; i < n; i++) out.add(new Sampled(prompts.get(i % prompts.size()), got.get(2 * i), got.get(2 * i + 1)));
        return out;
    }

    /** A sample's tokens without the trailing end-of-text. */
    static int[] content(Generator.Sample s) {
        int[] t = s.tokens();
        return s.endedWithEos() ? Arrays.copyOf(t, t.length - 1) : t;
    }
}
