package io.pref4j.experiment.length;

import io.pref4j.model.CausalLm;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.io.TokenizedPair;
import io.pref4j.kernel.Kernels;
import io.pref4j.reward.Completion;
import io.pref4j.reward.LearnedReward;
import io.pref4j.reward.RewardModelTrainer;
import io.pref4j.reward.RewardSource;
import io.pref4j.text.ByteTokenizer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The proxy reward of the length tasks: a Bradley–Terry reward model (π_ref's transformer
 * with a scalar head, {@link RewardModelTrainer}) trained on the task's preference pairs,
 * then normalised so that π_ref's own samples score mean 0 and standard deviation 1 (the
 * usual RLHF normalisation; the Bradley–Terry offset is arbitrary, and RWR's exponential
 * weights and REINFORCE/PPO's reward scale depend on it). Online methods train on it; the
 * gold reward (the length function) is used only for the dataset labels and for evaluation.
 */
public final class ProxyReward {
    private ProxyReward() {}

    /** A trained reward model: its folder, the normalisation, and held-out pair accuracy. */
    public record Model(Path dir, double mean, double std, double evalAccuracy, double refGoldCorrelation) {}

    /** Reward-model training settings. */
    public record Settings(int epochs, int batchPairs, float lr, long seed) {}

    /**
     * Trains the reward model on the pairs (10% held out for its accuracy), normalises it on
     * π_ref's samples, writes it to {@code dir/rm} and returns it.
     *
     * @param refSamples π_ref samples for the normalisation (prompt ids, response ids)
     * @param gold       the gold reward of each reference sample (for the reported correlation)
     */
    public static Model train(Kernels k, Path baseModel, List<LengthTasks.Pair> pairs, List<int[]> refPrompts,
                              List<int[]> refResponses, double[] gold, Settings s, Path dir, PrintStream log) throws IOException {
        List<TokenizedPair> tp = new ArrayList<>(pairs.size());
        for (LengthTasks.Pair p : pairs) tp.add(p.tokenized());
        RewardModelTrainer.Split split = RewardModelTrainer.split(tp, 0.1, s.seed());
        CausalLm rm = RewardModelTrainer.fromBase(k, baseModel, 64, ReferenceModel.MAX_T, s.seed(), 0.02);
        RewardModelTrainer trainer = new RewardModelTrainer(rm, ByteTokenizer.INSTANCE.eosId(),
                RewardModelTrainer.Options.defaults().withEpochs(s.epochs()).withBatchPairs(s.batchPairs())
                        .withLr(s.lr()).withSeed(s.seed()).withWeightDecay(0f).withLogEvery(1_000_000));
        RewardModelTrainer.Result r = trainer.train(split.train(), split.eval(), null, null);
        double[] raw = trainer.rewards(refPrompts, refResponses);
        double mean = 0, var = 0;
        for (double x : raw) mean += x / raw.length;
        for (double x : raw) var += (x - mean) * (x - mean) / raw.length;
        double std = Math.max(1e-6, Math.sqrt(var));
        double corr = correlation(raw, gold);
        Path out = dir.resolve("rm");
        trainer.save(out, ByteTokenizer.INSTANCE.name());
        ObjectMapper json = new ObjectMapper();
        ObjectNode meta = json.createObjectNode();
        meta.put("pairs", tp.size()).put("eval_accuracy", r.finalEval().accuracy()).put("eval_loss", r.finalEval().loss())
                .put("mean", mean).put("std", std).put("ref_gold_correlation", corr);
        Files.writeString(dir.resolve("rm.json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(meta) + "\n");
        log.printf(Locale.ROOT, "  proxy reward model: %d pairs, held-out accuracy %.3f, correlation with gold on π_ref samples %.3f%n",
                tp.size(), r.finalEval().accuracy(), corr);
        return new Model(out, mean, std, r.finalEval().accuracy(), corr);
    }

    /** Pearson correlation (NaN when either side is constant). */
    static double correlation(double[] a, double[] b) {
        int n = a.length;
        double ma = 0, mb = 0;
        for (int i = 0; i < n; i++) {
            ma += a[i] / n;
            mb += b[i] / n;
        }
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < n; i++) {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        return sab / Math.sqrt(saa * sbb);
    }

    /** The normalised reward model as a reward source on backend k, counting its queries. */
    public static Counting source(Kernels k, Model m) {
        LearnedReward lr = LearnedReward.load(k, m.dir(), "byte", 64 * ReferenceModel.MAX_T);
        return new Counting(lr, m.mean(), m.std());
    }

    /** A reward source scoring (r − mean)/std and counting the completions it scored. */
    public static final class Counting implements RewardSource {
        private final RewardSource inner;
        private final double mean, std;
        private final AtomicLong queries = new AtomicLong();

        public Counting(RewardSource inner, double mean, double std) {
            this.inner = inner;
            this.mean = mean;
            this.std = std;
        }

        public long queries() { return queries.get(); }

        @Override public String name() { return "proxy(" + inner.name() + ")"; }

        @Override public double[] score(List<Completion> batch) {
            queries.addAndGet(batch.size());
            double[] r = inner.score(batch);
            for (int i = 0; i < r.length; i++) r[i] = (r[i] - mean) / std;
            return r;
        }

        @Override public void close() { inner.close(); }
    }
}
