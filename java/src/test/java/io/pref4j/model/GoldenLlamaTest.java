package io.pref4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pref4j.io.LlamaCheckpoint;
import io.pref4j.io.ModelFiles;
import io.pref4j.io.SafeTensors;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.loss.LossConfig;
import io.pref4j.loss.LossResult;
import io.pref4j.loss.Losses;
import io.pref4j.loss.PairBatch;
import io.pref4j.loss.PairwiseLoss;
import io.pref4j.train.Sequences;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static io.pref4j.model.GoldenGptTest.ints;
import static io.pref4j.model.GoldenGptTest.relErr;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The CPU Llama family against an independent PyTorch float64 implementation of the Hugging
 * Face math (fixtures from tools/golden/make_llama_fixtures.py): logits, per-token and
 * per-sequence log-probs, the DPO loss through pref4j's loss code and every parameter
 * gradient, each within a relative error (‖got − want‖ / ‖want‖) of 1e-5. Cases: llama GQA
 * untied; llama MHA tied with llama3 rope scaling; qwen2 (q/k/v biases, tied); qwen3 (q/k
 * norm, head_dim 32 ≠ hidden/heads); llama MQA with attention_bias (q/k/v/o biases) and
 * linear rope scaling; mistral. Plus a sharded BF16/F16 qwen2 folder loaded through
 * {@link ModelFiles}.
 */
class GoldenLlamaTest {

    static final double TOL = GoldenGptTest.TOL;
    static final Path DIR = GoldenGptTest.DIR;
    static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @ValueSource(strings = {"gqa", "mha_llama3rope", "qwen2", "qwen3", "mqa_bias", "mistral"})
    void dpoForwardLossAndGradientsMatchPyTorch(String name) throws Exception {
        try (SafeTensors st = SafeTensors.open(DIR.resolve("llama_" + name + ".safetensors")); CpuKernels k = new CpuKernels(2)) {
            LlamaConfig cfg = LlamaCheckpoint.parseConfig(JSON.readTree(st.metadata().get("config")), name);
            int[] lengths = ints(st.floats("in.lengths"));
            int B = lengths.length, P = B / 2;
            int[] tokens = ints(st.floats("in.tokens"));
            int T = tokens.length / B;
            int[] targets = ints(st.floats("in.targets"));
            float[] ref = st.floats("in.ref_logp");
            double beta = st.floats("in.beta")[0];
            int V = cfg.vocabSize();

            Llama m = new Llama(k, cfg, B, T);
            // the fixture's HF tensors and the layout are the same set of names
            Set<String> fixture = new TreeSet<>(), layout = new TreeSet<>();
            for (String n : st.names()) if (n.startsWith("param.")) fixture.add(n.substring("param.".length()));
            for (ParameterLayout.Entry e : m.layout().entries()) layout.add(e.name());
            assertEquals(fixture, layout, "parameter names");
            for (ParameterLayout.Entry e : m.layout().entries()) m.writeParam(e.name(), st.floats("param." + e.name()));

            m.forward(tokens, lengths, targets, B, T);

            // logits at real positions (padding rows are defined differently and unused)
            float[] logits = m.fullLogits(), wantLogits = st.floats("out.logits");
            int real = 0;
            for (int b = 0; b < B; b++) real += lengths[b];
            float[] g = new float[real * V], w = new float[real * V];
            int r = 0;
            for (int b = 0; b < B; b++) {
                for (int t = 0; t < lengths[b]; t++, r++) {
                    System.arraycopy(logits, (b * T + t) * V, g, r * V, V);
                    System.arraycopy(wantLogits, (b * T + t) * V, w, r * V, V);
                }
            }
            assertTrue(relErr(g, w) <= TOL, "logits: relative error " + relErr(g, w));

            float[] tokLogp = m.tokenLogp();
            assertTrue(relErr(tokLogp, st.floats("out.token_logp")) <= TOL, "token log-probs " + relErr(tokLogp, st.floats("out.token_logp")));
            float[] seq = new float[B];
            for (int i = 0; i < B * T; i++) if (targets[i] >= 0) seq[i / T] += tokLogp[i];
            assertTrue(relErr(seq, st.floats("out.seq_logp")) <= TOL, "sequence log-probs " + relErr(seq, st.floats("out.seq_logp")));

            // DPO through pref4j's loss: pairs (0, 2) and (1, 3)
            PairwiseLoss loss = (PairwiseLoss) Losses.create(LossConfig.fromMap(Map.of("type", "dpo", "beta", Double.toString(beta))));
            MemorySegment logp = k.allocFloats(B), refLogp = k.allocFloats(B), dseqBuf = k.allocFloats(B);
            MemorySegment chosen = k.allocInts(P), rejected = k.allocInts(P);
            k.write(logp, seq);
            k.write(refLogp, ref);
            k.writeInts(chosen, new int[]{0, 1});
            k.writeInts(rejected, new int[]{2, 3});
            LossResult res = loss.compute(k, new PairBatch(logp, refLogp, null, chosen, rejected, B, P), dseqBuf);
            float want = st.floats("out.loss")[0];
            assertEquals(want, res.loss(), TOL * Math.abs(want), "DPO loss");
            float[] dseq = new float[B];
            k.read(dseqBuf, dseq);
            assertTrue(dseq[0] < 0 && dseq[2] > 0, "the loss pulls chosen up and rejected down");

            float[] dlogp = new float[B * T];
            for (int i = 0; i < B * T; i++) if (targets[i] >= 0) dlogp[i] = dseq[i / T];
            m.zeroGrad();
            m.backward(dlogp);
            int checked = 0;
            for (ParameterLayout.Entry e : m.layout().entries()) {
                double err = relErr(m.readGrad(e.name()), st.floats("grad." + e.name()));
                assertTrue(err <= TOL, "gradient of " + e.name() + ": relative error " + err);
                checked++;
            }
            assertEquals(fixture.size(), checked);
        }
    }

    @Test
    void shardedBf16F16FolderMatchesPyTorch() throws Exception {
        Path dir = DIR.resolve("qwen2_sharded");
        JsonNode expected = JSON.readTree(DIR.resolve("qwen2_sharded_expected.json").toFile());
        List<Sequences.Seq> seqs = new ArrayList<>();
        List<Double> want = new ArrayList<>();
        int maxLen = 1;
        for (JsonNode s : expected.get("sequences")) {
            int[] prompt = JSON.treeToValue(s.get("prompt"), int[].class), resp = JSON.treeToValue(s.get("response"), int[].class);
            seqs.add(new Sequences.Seq(prompt, resp));
            want.add(s.get("logp").asDouble());
            maxLen = Math.max(maxLen, prompt.length + resp.length);
        }
        try (CpuKernels k = new CpuKernels(2)) {
            LlamaConfig cfg = (LlamaConfig) ModelFiles.readConfig(dir);
            assertEquals("qwen2", cfg.modelType());
            assertTrue(cfg.tieWordEmbeddings());
            CausalLm m = ModelFiles.load(k, dir, seqs.size(), maxLen);
            double[] got = Sequences.logp(m, seqs, 0);
            for (int i = 0; i < got.length; i++) {
                double rel = Math.abs(got[i] - want.get(i)) / Math.abs(want.get(i));
                assertTrue(rel <= TOL, "sequence " + i + ": " + got[i] + " vs " + want.get(i) + " (relative " + rel + ")");
            }
        }
    }
}
