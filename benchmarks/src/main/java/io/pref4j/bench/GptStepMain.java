package io.pref4j.bench;

/**
 * Times {@link GptStep} outside JMH, the way tools/bench/torch_gpt_cpu.py times PyTorch:
 * warm-up steps, then the median of timed steps. Prints a human line and a
 * {@code RESULT} line that tools/bench/side_by_side.sh parses.
 * <pre>java ... -cp benchmarks.jar io.pref4j.bench.GptStepMain [--threads 2] [--vocab 50257]
 *     [--layers 4] [--channels 256] [--heads 4] [--seq 128] [--batch 8] [--warmup 3] [--runs 5]</pre>
 */
public final class GptStepMain {

    public static void main(String[] args) {
        int threads = Runtime.getRuntime().availableProcessors(), vocab = GptStep.VOCAB, layers = GptStep.LAYERS,
                channels = GptStep.CHANNELS, heads = GptStep.HEADS, seq = GptStep.T, batch = GptStep.BATCH,
                warmup = 3, runs = 5;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) usage("missing value after " + a);
            int v;
            try {
                v = Integer.parseInt(args[++i]);
            } catch (NumberFormatException e) {
                usage("not an integer: " + args[i]);
                return;
            }
            switch (a) {
                case "--threads" -> threads = v;
                case "--vocab" -> vocab = v;
                case "--layers" -> layers = v;
                case "--channels" -> channels = v;
                case "--heads" -> heads = v;
                case "--seq" -> seq = v;
                case "--batch" -> batch = v;
                case "--warmup" -> warmup = v;
                case "--runs" -> runs = v;
                default -> usage("unknown option " + a);
            }
        }
        try (GptStep s = new GptStep(threads, vocab, layers, channels, heads, seq, batch, 1234)) {
            double loss = 0;
            for (int i = 0; i < warmup; i++) loss = s.step();
            double[] ms = new double[runs];
            for (int i = 0; i < runs; i++) {
                long t0 = System.nanoTime();
                loss = s.step();
                ms[i] = (System.nanoTime() - t0) * 1e-6;
            }
            java.util.Arrays.sort(ms);
            double med = runs % 2 == 1 ? ms[runs / 2] : 0.5 * (ms[runs / 2 - 1] + ms[runs / 2]);
            double tps = s.tokensPerStep() / (med * 1e-3);
            System.out.printf("pref4j %s: GPT L%d d%d h%d V%d, B%d T%d: %.1f ms/step (median of %d, min %.1f), %.0f tokens/s, loss %.4f%n",
                    s.k.name(), layers, channels, heads, vocab, batch, seq, med, runs, ms[0], tps, loss);
            System.out.printf("RESULT impl=pref4j threads=%d ms=%.3f min_ms=%.3f tokens_per_s=%.1f loss=%.6f%n", threads, med, ms[0], tps, loss);
        }
    }

    private static void usage(String msg) {
        System.err.println("GptStepMain: " + msg);
        System.exit(2);
    }
}
