package io.pref4j.config;

import com.fasterxml.jackson.databind.JsonNode;
import io.pref4j.UserInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ConfigsTest {

    @TempDir
    Path dir;

    // A config exercising every supported component type.
    enum Color { RED, DARK_BLUE }

    @Doc("inner section")
    record Inner(@Doc("a count") int count, @Doc("a colour") Color color) {
        static Inner defaults() { return new Inner(3, Color.RED); }

        void validate() { Check.atLeast("count", count, 1); }
    }

    record All(
            @Doc("i") int anInt,
            @Doc("l") long aLong,
            @Doc("f") float aFloat,
            @Doc("d") double aDouble,
            @Doc("b") boolean flag,
            @Doc("s") String text,
            @Doc("ns") @Nullable String maybeText,
            @Doc("I") Integer boxedInt,
            @Doc("D") Double boxedDouble,
            @Doc("e") Color color,
            @Doc("ls") List<String> words,
            @Doc("li") List<Integer> ints,
            @Doc("ld") List<Double> reals,
            @Doc("inner") Inner inner) {
        static All defaults() {
            return new All(1, 2L, 0.5f, 0.25, false, "x", null, null, 1.5, Color.RED,
                    List.of("a"), List.of(1, 2), List.of(), Inner.defaults());
        }
    }

    Path put(String name, String json) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, json);
        return p;
    }

    static String fails(Runnable r) {
        UserInputException e = assertThrows(UserInputException.class, r::run);
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    @Test
    void defaultsWithoutFileOrOverrides() {
        assertEquals(TrainConfig.defaults(), TrainConfig.load(null, List.of()));
        assertEquals(TrainConfig.defaults(), Configs.load(TrainConfig.class, null, null));
    }

    @Test
    void missingKeysKeepDefaults() throws IOException {
        Path f = put("c.json", """
                // comments are allowed
                {"loop": {"reuse": 2, "mode": "offline"}, "optim": {"lr": 1e-4}}
                """);
        TrainConfig c = TrainConfig.load(f, List.of());
        assertEquals(2, c.loop().reuse());
        assertEquals(LoopSection.Mode.OFFLINE, c.loop().mode());
        assertEquals(1e-4, c.optim().lr());
        assertEquals(LoopSection.defaults().promptBatch(), c.loop().promptBatch());
        assertEquals(OptimSection.defaults().beta2(), c.optim().beta2());
        assertEquals(TrainConfig.defaults().sampling(), c.sampling());
    }

    @Test
    void bindsEveryType() {
        All a = Configs.parse(All.class, """
                {"an_int": 1e3, "a_long": 9000000000, "a_float": 0.1, "a_double": -2.5, "flag": true,
                 "text": "hello", "maybe_text": "t", "boxed_int": 7, "boxed_double": null, "color": "dark_blue",
                 "words": ["p", "q"], "ints": [3], "reals": [1, 2.5], "inner": {"color": "dark_blue"}}
                """, "all.json");
        assertEquals(new All(1000, 9_000_000_000L, 0.1f, -2.5, true, "hello", "t", 7, null, Color.DARK_BLUE,
                List.of("p", "q"), List.of(3), List.of(1.0, 2.5), new Inner(3, Color.DARK_BLUE)), a);
    }

    @Test
    void roundTripOfEveryType() {
        All a = new All(-4, Long.MIN_VALUE, 3.0e-4f, 1e-8, true, "q\"uote", "m", 5, 0.1, Color.DARK_BLUE,
                List.of("x", "y"), List.of(-1, 0), List.of(0.3, 1e300), new Inner(9, Color.RED));
        String json = Configs.toJson(a);
        assertEquals(a, Configs.parse(All.class, json, "x"));
        assertTrue(json.contains("\"color\" : \"dark_blue\""), json);
        All nulls = new All(0, 0, 0, 0, false, "", null, null, null, Color.RED, List.of(), List.of(), List.of(), Inner.defaults());
        assertEquals(nulls, Configs.parse(All.class, Configs.toJson(nulls), "x"));
    }

    @Test
    void resolvedTrainConfigRoundTrips() throws IOException {
        TrainConfig c = TrainConfig.load(null, List.of("loop.reuse=3", "loss.type=wdpo", "optim.lr=3e-4",
                "optune.enabled=true", "optune.rho=0.5", "optune.selection=random", "data.prompts=p.jsonl",
                "reward.command=[\"python3\",\"score.py\"]", "model.max_seq_len=128", "run.seed=-7"));
        assertNotEquals(TrainConfig.defaults(), c);
        Path f = put("resolved.json", Configs.toJson(c));
        assertEquals(c, TrainConfig.load(f, List.of()));
        // every leaf key is written
        JsonNode tree = Configs.toTree(c);
        for (Configs.KeyInfo k : Configs.describe(TrainConfig.class)) {
            JsonNode n = tree;
            for (String p : k.key().split("\\.")) n = n.get(p);
            assertNotNull(n, k.key());
            assertEquals(k.section(), n.isObject(), k.key());
        }
    }

    @Test
    void overrides() {
        TrainConfig c = TrainConfig.load(null, List.of("loop.reuse=2", "loss.type=wdpo",
                "reward.command=[\"python3\",\"score.py\"]", "run.name=123", "data.prompts=null",
                "model.tokenizer=gpt2", "loop={\"prompt_batch\": 4}", "optim.lr = 0.001"));
        assertEquals(2, c.loop().reuse());
        assertEquals(4, c.loop().promptBatch());
        assertEquals("wdpo", c.loss().type());
        assertEquals(List.of("python3", "score.py"), c.reward().command());
        assertEquals("123", c.run().name());
        assertNull(c.data().prompts());
        assertEquals(ModelSection.Tokenizer.GPT2, c.model().tokenizer());
        assertEquals(0.001, c.optim().lr());
        // later overrides win, and they apply after the file
        assertEquals(5, TrainConfig.load(null, List.of("loop.reuse=2", "loop.reuse=5")).loop().reuse());
        assertEquals(6, Configs.override(c, "loop.reuse=6").loop().reuse());
    }

    @Test
    void overridesApplyAfterTheFile() throws IOException {
        Path f = put("c.json", "{\"loop\": {\"reuse\": 2, \"iterations\": 7}}");
        TrainConfig c = TrainConfig.load(f, List.of("loop.reuse=4"));
        assertEquals(4, c.loop().reuse());
        assertEquals(7, c.loop().iterations());
    }

    @Test
    void unknownKeySuggestsTheNearest() throws IOException {
        Path f = put("config.json", "{\"loop\": {\"resue\": 2}}");
        assertEquals(f + ": unknown key loop.resue (did you mean loop.reuse?)", fails(() -> TrainConfig.load(f, List.of())));
        Path g = put("g.json", "{\"reuse\": 2}");
        assertEquals(g + ": unknown key reuse (did you mean loop.reuse?)", fails(() -> TrainConfig.load(g, List.of())));
        Path h = put("h.json", "{\"optim\": {\"temperature\": 0.7}}");
        assertEquals(h + ": unknown key optim.temperature (did you mean sampling.temperature?)",
                fails(() -> TrainConfig.load(h, List.of())));
        Path i = put("i.json", "{\"lop\": {}}");
        assertEquals(i + ": unknown key lop (did you mean loop?)", fails(() -> TrainConfig.load(i, List.of())));
        Path j = put("j.json", "{\"optim\": {\"learning_rate\": 0.1}}");
        String m = fails(() -> TrainConfig.load(j, List.of()));
        assertTrue(m.startsWith(j + ": unknown key optim.learning_rate (valid keys in optim: lr, schedule, warmup,"), m);
        assertEquals("--set loop.resue=2: unknown key loop.resue (did you mean loop.reuse?)",
                fails(() -> TrainConfig.load(null, List.of("loop.resue=2"))));
        assertEquals("--set sampling.top_k.x=2: sampling.top_k is not a section (it has no key x)",
                fails(() -> TrainConfig.load(null, List.of("sampling.top_k.x=2"))));
    }

    @Test
    void wrongTypesNameTheKeyAndTheValue() throws IOException {
        Path f = put("config.json", "{\"loop\": {\"reuse\": \"two\"}}");
        assertEquals(f + ": loop.reuse must be an integer, got \"two\"", fails(() -> TrainConfig.load(f, List.of())));
        assertEquals("--set loop.reuse=two: loop.reuse must be an integer, got \"two\"",
                fails(() -> TrainConfig.load(null, List.of("loop.reuse=two"))));
        assertEquals("s: an_int must be an integer, got 2.5", fails(() -> Configs.parse(All.class, "{\"an_int\": 2.5}", "s")));
        assertEquals("s: an_int must be an integer between -2147483648 and 2147483647, got 3000000000",
                fails(() -> Configs.parse(All.class, "{\"an_int\": 3000000000}", "s")));
        assertEquals("s: flag must be true or false, got \"yes\"", fails(() -> Configs.parse(All.class, "{\"flag\": \"yes\"}", "s")));
        assertEquals("s: text must be a string, got null", fails(() -> Configs.parse(All.class, "{\"text\": null}", "s")));
        assertEquals("s: a_double must be a number, got null", fails(() -> Configs.parse(All.class, "{\"a_double\": null}", "s")));
        assertEquals("s: color must be one of red|dark_blue, got \"dark_bleu\" (did you mean dark_blue?)",
                fails(() -> Configs.parse(All.class, "{\"color\": \"dark_bleu\"}", "s")));
        assertEquals("s: words must be a list of strings, got \"a\"", fails(() -> Configs.parse(All.class, "{\"words\": \"a\"}", "s")));
        assertEquals("s: words[1] must be a string, got 3", fails(() -> Configs.parse(All.class, "{\"words\": [\"a\", 3]}", "s")));
        assertEquals("s: reals[0] must be a number, got null", fails(() -> Configs.parse(All.class, "{\"reals\": [null]}", "s")));
        assertEquals("s: inner must be an object (a section), got 3", fails(() -> Configs.parse(All.class, "{\"inner\": 3}", "s")));
        assertEquals("s: boxed_int must be an integer or null, got true", fails(() -> Configs.parse(All.class, "{\"boxed_int\": true}", "s")));
        assertEquals("s: a_float is too large for a float, got 1.0E39", fails(() -> Configs.parse(All.class, "{\"a_float\": 1e39}", "s")));
    }

    @Test
    void rangeViolationsNameTheSource() throws IOException {
        Path f = put("config.json", "{\"loop\": {\"mixing\": 1.5}}");
        assertEquals(f + ": loop.mixing must be in [0, 1], got 1.5", fails(() -> TrainConfig.load(f, List.of())));
        assertEquals("--set loop.reuse=0: loop.reuse must be at least 1, got 0",
                fails(() -> TrainConfig.load(f, List.of("loop.mixing=0.5", "loop.reuse=0"))));
        // a bad value in the file, fixed by an override, is fine
        assertEquals(0.5, TrainConfig.load(f, List.of("loop.mixing=0.5")).loop().mixing());
        assertEquals("s: inner.count must be at least 1, got 0", fails(() -> Configs.parse(All.class, "{\"inner\": {\"count\": 0}}", "s")));
        assertEquals("s: loss.type must be one of sft|nll|dpo|ipo|hinge|wdpo|rwr|bon|reinforce|ppo|grpo|kto|simpo|orpo, got \"dop\" (did you mean dpo?)",
                fails(() -> Configs.parse(TrainConfig.class, "{\"loss\": {\"type\": \"dop\"}}", "s")));
        assertEquals("s: optune.enabled needs loop.mode = online (OPTune regenerates responses)",
                fails(() -> Configs.parse(TrainConfig.class, "{\"optune\": {\"enabled\": true}, \"loop\": {\"mode\": \"offline\"}}", "s")));
        assertEquals("--set sampling.top_p=0: sampling.top_p must be in (0, 1], got 0",
                fails(() -> Configs.override(TrainConfig.defaults(), "sampling.top_p=0")));
    }

    @Test
    void malformedJsonGivesLineAndColumn() throws IOException {
        Path f = put("bad.json", "{\n  \"loop\": {\n    \"reuse\": 2,,\n  }\n}\n");
        String m = fails(() -> TrainConfig.load(f, List.of()));
        assertTrue(m.startsWith(f + ":3:16: malformed JSON ("), m);
        Path d = put("dup.json", "{\"loop\": {}, \"loop\": {}}");
        assertTrue(fails(() -> TrainConfig.load(d, List.of())).contains("Duplicate field 'loop'"));
        Path e = put("empty.json", "  \n");
        assertEquals(e + ": empty file (expected a JSON object)", fails(() -> TrainConfig.load(e, List.of())));
        Path a = put("arr.json", "[1]");
        assertEquals(a + ": expected a JSON object at the top level, got a list [1]", fails(() -> TrainConfig.load(a, List.of())));
        Path t = put("trail.json", "{} {}");
        assertTrue(fails(() -> TrainConfig.load(t, List.of())).startsWith(t + ":1:"));
        Path missing = dir.resolve("nope.json");
        assertEquals(missing + ": no such file", fails(() -> TrainConfig.load(missing, List.of())));
        assertEquals("--set loop.reuse: expected key=value (e.g. loop.reuse=2)",
                fails(() -> TrainConfig.load(null, List.of("loop.reuse"))));
        assertTrue(fails(() -> TrainConfig.load(null, List.of("loop..reuse=1"))).startsWith("--set loop..reuse=1: malformed key"));
    }

    @Test
    void describeListsEveryKeyWithTypeDefaultAndDoc() {
        List<Configs.KeyInfo> keys = Configs.describe(TrainConfig.class);
        assertEquals(Configs.keys(TrainConfig.class), keys.stream().map(Configs.KeyInfo::key).toList());
        for (Configs.KeyInfo k : keys) assertFalse(k.doc().isBlank(), k.key());
        Configs.KeyInfo reuse = keys.stream().filter(k -> k.key().equals("loop.reuse")).findFirst().orElseThrow();
        assertEquals(new Configs.KeyInfo("loop.reuse", "integer", "1", reuse.doc(), false), reuse);
        Configs.KeyInfo mode = keys.stream().filter(k -> k.key().equals("loop.mode")).findFirst().orElseThrow();
        assertEquals("online|offline", mode.type());
        assertEquals("\"online\"", mode.defaultValue());
        Configs.KeyInfo out = keys.stream().filter(k -> k.key().equals("run.out")).findFirst().orElseThrow();
        assertEquals("string or null", out.type());
        assertEquals("null", out.defaultValue());
        assertTrue(keys.stream().anyMatch(k -> k.key().equals("loop") && k.section()));
        for (String k : List.of("run.device", "run.threads", "model.init", "model.tokenizer", "model.max_seq_len",
                "data.prompts", "data.preferences", "data.eval_prompts", "data.prompt_field", "loop.prompt_batch",
                "loop.responses_per_prompt", "loop.minibatch", "loop.grad_accum", "loop.mixing", "loop.pairs",
                "loop.threshold", "loop.eval_every", "optim.schedule", "optim.warmup", "optim.min_lr_fraction",
                "optim.weight_decay", "optim.clip", "sampling.top_k", "sampling.top_p", "sampling.max_new_tokens",
                "optune.rho", "optune.selection", "optune.rank_by", "checkpoint.every", "checkpoint.keep",
                "log.every", "log.progress", "loss.type", "loss.beta", "reward.type")) {
            assertTrue(keys.stream().anyMatch(x -> x.key().equals(k)), k);
        }
    }

    record Undocumented(@Doc("x") int x, int y) {
        static Undocumented defaults() { return new Undocumented(0, 0); }
    }

    record Unsupported(@Doc("m") java.util.Map<String, String> m) {
        static Unsupported defaults() { return new Unsupported(java.util.Map.of()); }
    }

    record NoDefaults(@Doc("x") int x) {
    }

    @Test
    void schemaMistakesAreProgrammerErrors() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Configs.describe(Undocumented.class))
                .getMessage().contains("Undocumented.y has no @Doc"));
        assertThrows(IllegalArgumentException.class, () -> Configs.parse(Unsupported.class, "{\"m\": {}}", "s"));
        assertThrows(IllegalArgumentException.class, () -> Configs.describe(Unsupported.class));
        assertThrows(IllegalArgumentException.class, () -> Configs.load(NoDefaults.class, null, List.of()));
    }

    @Test
    void namesAndDistances() {
        assertEquals("max_seq_len", Names.snake("maxSeqLen"));
        assertEquals("beta1", Names.snake("beta1"));
        assertEquals("top_k", Names.snake("topK"));
        assertEquals(1, Names.distance("resue", "reuse"));
        assertEquals(3, Names.distance("kitten", "sitting"));
        assertEquals(0, Names.distance("", ""));
        assertEquals(4, Names.distance("", "loop"));
        assertEquals("reuse", Names.nearest("reuse_", List.of("reuse", "mixing")));
        assertNull(Names.nearest("lr", List.of("schedule", "warmup")));
    }
}
