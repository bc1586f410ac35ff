package io.pref4j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.io.Jsonl;
import io.pref4j.kernel.Backends;
import io.pref4j.kernel.Kernels;
import io.pref4j.reward.Completion;
import io.pref4j.reward.RewardConfig;
import io.pref4j.reward.RewardSource;
import io.pref4j.reward.RewardSources;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code pref4j eval}: samples like {@code pref4j sample}, scores every response with a
 * reward source (SPEC §4) and prints a summary table; {@code --out} also writes the samples
 * with their {@code reward}.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Sample responses for each prompt (as pref4j sample does), score them with a reward source and print",
                "a summary: prompts, samples, reward mean/std/min/max, mean response length (tokens), fraction finished.",
                "--out FILE.jsonl also writes each sample (the sample command's fields) with its \"reward\"."})
public final class EvalCommand implements Callable<Integer> {

    @Mixin
    SampleCommand.SamplingOptions sampling = new SampleCommand.SamplingOptions();

    @Option(names = "--reward", paramLabel = "TYPE",
            description = "Required. min_length, mode_length, target_length, bandit_r1, bandit_r2, learned or external.")
    String reward;

    @Option(names = "--reward-mode", paramLabel = "M", description = "mode_length: the mode in tokens (required for now).")
    Integer rewardMode;

    @Option(names = "--reward-target", paramLabel = "T", description = "target_length: the target length in tokens.")
    Integer rewardTarget;

    @Option(names = "--reward-model", paramLabel = "DIR", description = "learned: a reward-model folder written by pref4j train-rm.")
    String rewardModel;

    @Option(names = "--reward-command", paramLabel = "ARG", arity = "1..*",
            description = {"external: the program and its arguments, run without a shell (repeatable; write --reward-command=-x",
                    "for an argument starting with '-'). It reads JSONL {\"prompt\",\"response\"} on stdin and prints one number per line."})
    List<String> rewardCommand;

    @Option(names = "--reward-timeout", paramLabel = "S", description = "external: seconds the command may take per batch (default 30).")
    Double rewardTimeout;

    @Option(names = "--out", paramLabel = "FILE.jsonl", description = "Also write each sample with its \"reward\" here.")
    Path out;

    @Spec
    CommandSpec spec;

    /** The summary of an evaluation: the numbers the table prints. */
    record Summary(int prompts, int samples, double rewardMean, double rewardStd, double rewardMin, double rewardMax,
                   double meanLength, double finished) {}

    @Override
    public Integer call() {
        if (reward == null) throw new UserInputException("eval: --reward TYPE is required (one of: " + String.join(", ", RewardConfig.TYPES) + ")");
        RewardConfig rc = rewardConfig();
        SampleCommand.Prepared p = sampling.prepare("eval");
        PrintWriter err = spec.commandLine().getErr();
        List<Double> rewards = new ArrayList<>();
        long[] lengthSum = {0};
        int[] finished = {0};
        try (Kernels k = Backends.open(sampling.device, sampling.threads, s -> err.println("eval: " + s));
             RewardSource source = create(rc, k, p);
             Jsonl.Writer w = out == null ? null : Jsonl.writer(out)) {
            // each generation batch (at most --batch rows) is scored as one batch: an external command's timeout is per batch
            sampling.generate(k, p, rows -> {
                List<Completion> batch = new ArrayList<>(rows.size());
                for (SampleCommand.Row r : rows)
                    batch.add(new Completion(r.prompt().text(), r.response(), r.prompt().ids(), r.responseIds()));
                double[] rs;
                try {
                    rs = source.score(batch);
                } catch (IllegalArgumentException e) {
                    // a programmatic reward that cannot score these responses (e.g. a bandit reward on free text)
                    throw new UserInputException("--reward " + rc.type() + " cannot score the responses to the prompts at "
                            + rows.getFirst().line().where() + " .. " + rows.getLast().line().where() + ": " + e.getMessage(), e);
                }
                if (rs.length != rows.size())
                    throw new IllegalStateException("reward " + source.name() + " returned " + rs.length + " rewards for " + rows.size() + " responses");
                for (int i = 0; i < rs.length; i++) {
                    SampleCommand.Row r = rows.get(i);
                    rewards.add(rs[i]);
                    lengthSum[0] += r.responseIds().length;
                    if (r.finished()) finished[0]++;
                    if (w != null) {
                        ObjectNode node = r.toNode();
                        node.put("reward", rs[i]);
                        w.write(node);
                    }
                }
            });
        }
        Summary s = summarize(p.prompts().size(), rewards, lengthSum[0], finished[0]);
        PrintWriter o = spec.commandLine().getOut();
        o.print(table(rc, s));
        o.flush();
        if (out != null) err.println("eval: wrote " + rewards.size() + " samples to " + out);
        err.flush();
        return 0;
    }

    /** The reward config the options describe, validated (messages name the options). */
    RewardConfig rewardConfig() {
        RewardConfig rc = new RewardConfig(reward, rewardMode, rewardTarget, rewardModel, rewardCommand, rewardTimeout);
        if ("mode_length".equals(reward) && rewardMode == null)
            throw new UserInputException("--reward mode_length needs --reward-mode M (the mode of the reference policy's"
                    + " response lengths, in tokens)");
        try {
            RewardSources.validate(rc);
        } catch (UserInputException e) {
            throw new UserInputException(optionNames(e.getMessage()), e);
        }
        return rc;
    }

    private static RewardSource create(RewardConfig rc, Kernels k, SampleCommand.Prepared p) {
        try {
            return RewardSources.create(rc, k, p.tokenizer());
        } catch (UserInputException e) {
            throw new UserInputException(optionNames(e.getMessage()), e);
        }
    }

    /** Reward-config field names (reward.mode, ...) as this command's options. */
    static String optionNames(String msg) {
        return msg.replaceAll("\\breward\\.type\\b", "--reward")
                .replaceAll("\\breward\\.mode\\b", "--reward-mode")
                .replaceAll("\\breward\\.target\\b", "--reward-target")
                .replaceAll("\\breward\\.model\\b", "--reward-model")
                .replaceAll("\\breward\\.command\\b", "--reward-command")
                .replaceAll("\\breward\\.timeout_s(econds)?\\b", "--reward-timeout");
    }

    static Summary summarize(int prompts, List<Double> rewards, long lengthSum, int finished) {
        int n = rewards.size();
        double sum = 0, min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
        for (double r : rewards) {
            sum += r;
            min = Math.min(min, r);
            max = Math.max(max, r);
        }
        double mean = n == 0 ? Double.NaN : sum / n;
        double ss = 0;
        for (double r : rewards) ss += (r - mean) * (r - mean);
        double std = n == 0 ? Double.NaN : Math.sqrt(ss / n);
        return new Summary(prompts, n, mean, std, n == 0 ? Double.NaN : min, n == 0 ? Double.NaN : max,
                n == 0 ? Double.NaN : (double) lengthSum / n, n == 0 ? Double.NaN : (double) finished / n);
    }

    /** The summary as a two-column table, one metric per line. */
    static String table(RewardConfig rc, Summary s) {
        StringBuilder b = new StringBuilder();
        String reward = rc.type() + (rc.mode() != null ? " (mode " + rc.mode() + ")" : rc.target() != null ? " (target " + rc.target() + ")" : "");
        b.append(String.format(Locale.ROOT, "%-16s %s%n", "reward", reward));
        b.append(String.format(Locale.ROOT, "%-16s %d%n", "prompts", s.prompts()));
        b.append(String.format(Locale.ROOT, "%-16s %d%n", "samples", s.samples()));
        b.append(String.format(Locale.ROOT, "%-16s %.6f%n", "reward_mean", s.rewardMean()));
        b.append(String.format(Locale.ROOT, "%-16s %.6f%n", "reward_std", s.rewardStd()));
        b.append(String.format(Locale.ROOT, "%-16s %.6f%n", "reward_min", s.rewardMin()));
        b.append(String.format(Locale.ROOT, "%-16s %.6f%n", "reward_max", s.rewardMax()));
        b.append(String.format(Locale.ROOT, "%-16s %.4f%n", "response_length", s.meanLength()));
        b.append(String.format(Locale.ROOT, "%-16s %.4f%n", "finished", s.finished()));
        return b.toString();
    }
}
