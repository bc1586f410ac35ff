package io.pref4j.io;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.text.ByteTokenizer;
import io.pref4j.text.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class JsonlTest {

    @TempDir
    Path dir;

    private final Tokenizer tok = ByteTokenizer.INSTANCE;

    Path put(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, content, StandardCharsets.UTF_8);
        return p;
    }

    /** Asserts the call fails with a one-line message starting "file:line: " and containing fragments. */
    static void fails(Path file, int line, Runnable r, String... fragments) {
        UserInputException e = assertThrows(UserInputException.class, r::run);
        String m = e.getMessage();
        String prefix = line > 0 ? file + ":" + line + ": " : file + ": ";
        assertTrue(m.startsWith(prefix), "expected prefix " + prefix + " in: " + m);
        assertFalse(m.contains("\n"), m);
        for (String f : fragments) assertTrue(m.contains(f), "expected '" + f + "' in: " + m);
    }

    // ---------------------------------------------------------------- reading

    @Test
    void readsPairsKeepingExtraFields() throws IOException {
        Path p = put("pairs.jsonl", """
                {"prompt": "2+2=", "chosen": "4", "rejected": "5", "id": 7, "tags": ["math"]}

                {"prompt": "Capital of France?", "chosen": "Paris", "rejected": "Lyon"}
                """);
        List<PreferencePair> pairs = Jsonl.readPairs(p);
        assertEquals(2, pairs.size());
        PreferencePair a = pairs.get(0);
        assertEquals("2+2=", a.prompt());
        assertEquals("4", a.chosen());
        assertEquals("5", a.rejected());
        assertEquals(1, a.source().line());
        assertEquals(7, a.source().node().get("id").intValue());
        assertEquals(Map.of("prompt", "2+2=", "chosen", "4", "rejected", "5", "id", 7, "tags", List.of("math")),
                a.source().fields());
        assertEquals(3, pairs.get(1).source().line(), "blank lines count toward line numbers");
        assertEquals(p + ":3", pairs.get(1).source().where());
        assertEquals(Jsonl.Kind.PAIR_TEXT, Jsonl.kindOf(p));
    }

    @Test
    void readsSftAndPrompts() throws IOException {
        Path sft = put("sft.jsonl", "{\"prompt\":\"Q\",\"completion\":\"A\"}\r\n{\"prompt\":\"\",\"completion\":\"é\"}\r\n");
        List<SftExample> ex = Jsonl.readSft(sft);
        assertEquals(new SftExample("Q", "A"), new SftExample(ex.get(0).prompt(), ex.get(0).completion()));
        assertEquals("é", ex.get(1).completion());
        assertEquals(Jsonl.Kind.SFT_TEXT, Jsonl.kindOf(sft));

        Path prompts = put("prompts.jsonl", "{\"prompt\":\"hi\",\"answer\":\"42\"}\n");
        List<PromptExample> ps = Jsonl.readPrompts(prompts);
        assertEquals("hi", ps.get(0).prompt());
        assertEquals("42", ps.get(0).source().node().get("answer").textValue());
        assertEquals(Jsonl.Kind.PROMPT_TEXT, Jsonl.kindOf(prompts));
        // prompts can also come from a pair or SFT file
        assertEquals("Q", Jsonl.readPrompts(sft).get(0).prompt());
    }

    @Test
    void tokenizesTextAndReadsIds() throws IOException {
        Path text = put("t.jsonl", "{\"prompt\":\"ab\",\"chosen\":\"c\",\"rejected\":\"dé\"}\n");
        TokenizedPair tp = Jsonl.readTokenizedPairs(text, tok).get(0);
        assertArrayEquals(new int[]{97, 98}, tp.promptIds());
        assertArrayEquals(new int[]{99}, tp.chosenIds());
        assertArrayEquals(new int[]{100, 0xC3, 0xA9}, tp.rejectedIds());

        Path ids = put("ids.jsonl", """
                {"prompt_ids": [1, 2], "chosen_ids": [3], "rejected_ids": [256, 4]}
                {"prompt_ids": [], "chosen_ids": [5, 6], "rejected_ids": [7], "note": "x"}
                """);
        assertEquals(Jsonl.Kind.PAIR_IDS, Jsonl.kindOf(ids));
        List<TokenizedPair> pairs = Jsonl.readTokenizedPairs(ids, tok);
        assertArrayEquals(new int[]{256, 4}, pairs.get(0).rejectedIds());
        assertArrayEquals(new int[0], pairs.get(1).promptIds());
        assertEquals("x", pairs.get(1).source().node().get("note").textValue());

        Path sftIds = put("sftids.jsonl", "{\"prompt_ids\":[1],\"completion_ids\":[2,3]}\n");
        TokenizedExample te = Jsonl.readTokenizedSft(sftIds, tok).get(0);
        assertArrayEquals(new int[]{1}, te.promptIds());
        assertArrayEquals(new int[]{2, 3}, te.completionIds());
        TokenizedExample pr = Jsonl.readTokenizedPrompts(sftIds, tok).get(0);
        assertArrayEquals(new int[]{1}, pr.promptIds());
        assertEquals(0, pr.completionIds().length);
        assertArrayEquals(new int[]{104, 105},
                Jsonl.readTokenizedPrompts(put("p.jsonl", "{\"prompt\":\"hi\"}"), tok).get(0).promptIds());
    }

    @Test
    void kindDetection() {
        assertEquals(Jsonl.Kind.SFT_IDS, Jsonl.kindOf(Jsonl.parseLine(Path.of("f"), 1,
                "{\"prompt_ids\":[1],\"completion_ids\":[2]}")));
        assertEquals(Jsonl.Kind.PROMPT_IDS, Jsonl.kindOf(Jsonl.parseLine(Path.of("f"), 1, "{\"prompt_ids\":[1]}")));
        assertTrue(Jsonl.Kind.PAIR_IDS.isPair() && Jsonl.Kind.PAIR_IDS.isIds());
        assertTrue(Jsonl.Kind.PROMPT_TEXT.isPromptOnly() && !Jsonl.Kind.PROMPT_TEXT.isIds());
    }

    // ---------------------------------------------------------------- errors

    @Test
    void malformedJson() throws IOException {
        Path p = put("bad.jsonl", "{\"prompt\":\"a\",\"completion\":\"b\"}\n{\"prompt\": \"a\", \n");
        fails(p, 2, () -> Jsonl.readSft(p), "malformed JSON");
        Path q = put("two.jsonl", "{\"prompt\":\"a\"} {\"prompt\":\"b\"}\n");
        fails(q, 1, () -> Jsonl.readPrompts(q), "malformed JSON");
        Path r = put("notobj.jsonl", "[1,2]\n");
        fails(r, 1, () -> Jsonl.readPrompts(r), "expected a JSON object", "array");
        Path d = put("dup.jsonl", "{\"prompt\":\"a\",\"prompt\":\"b\"}\n");
        fails(d, 1, () -> Jsonl.readPrompts(d), "malformed JSON", "prompt");
    }

    @Test
    void missingField() throws IOException {
        Path p = put("miss.jsonl", """
                {"prompt": "a", "chosen": "b", "rejected": "c"}
                {"prompt": "a", "chosen": "b", "rejected": "c"}
                {"prompt": "a", "chosen": "b"}
                """);
        fails(p, 3, () -> Jsonl.readPairs(p), "\"prompt\", \"chosen\" and \"rejected\"", "\"rejected\" is missing");
        Path q = put("sft.jsonl", "{\"question\": \"a\", \"answer\": \"b\"}\n");
        fails(q, 1, () -> Jsonl.readSft(q), "\"prompt\" and \"completion\"", "\"question\"");
        fails(q, 1, () -> Jsonl.kindOf(q), "\"prompt\" and \"completion\" (or \"chosen\"/\"rejected\"");
        Path r = put("ids.jsonl", "{\"prompt_ids\": [1], \"chosen_ids\": [2]}\n");
        fails(r, 1, () -> Jsonl.readTokenizedPairs(r, tok), "\"rejected_ids\" is missing");
    }

    @Test
    void wrongType() throws IOException {
        Path p = put("type.jsonl", "{\"prompt\": 5, \"completion\": \"b\"}\n");
        fails(p, 1, () -> Jsonl.readSft(p), "\"prompt\" must be a string or a list of {\"role\", \"content\"} messages, got number 5");
        Path q = put("conv.jsonl", "{\"prompt\": [{\"role\":\"user\"}], \"chosen\": \"b\", \"rejected\": \"c\"}\n");
        fails(q, 1, () -> Jsonl.readPairs(q), "\"prompt\" is a list of messages but \"chosen\" is a string; a line must use one form");
        Path r = put("null.jsonl", "{\"prompt\": null}\n");
        fails(r, 1, () -> Jsonl.readPrompts(r), "must be a string or a list of {\"role\", \"content\"} messages, got null");
    }

    @Test
    void idsNotIntegers() throws IOException {
        Path p = put("ids.jsonl", "{\"prompt_ids\": [1, 1.5], \"completion_ids\": [2]}\n");
        fails(p, 1, () -> Jsonl.readTokenizedSft(p, tok), "\"prompt_ids\"", "element 1 is number 1.5");
        Path q = put("ids2.jsonl", "{\"prompt_ids\": \"1 2\", \"completion_ids\": [2]}\n");
        fails(q, 1, () -> Jsonl.readTokenizedSft(q, tok), "must be an array of integer token ids");
        Path r = put("ids3.jsonl", "{\"prompt_ids\": [1, \"2\"], \"completion_ids\": [2]}\n");
        fails(r, 1, () -> Jsonl.readTokenizedSft(r, tok), "element 1 is string");
        Path s = put("ids4.jsonl", "{\"prompt_ids\": [99999999999], \"completion_ids\": [2]}\n");
        fails(s, 1, () -> Jsonl.readTokenizedSft(s, tok), "element 0");
    }

    @Test
    void idOutOfRange() throws IOException {
        Path p = put("range.jsonl", """
                {"prompt_ids": [1], "chosen_ids": [2], "rejected_ids": [3]}
                {"prompt_ids": [1], "chosen_ids": [2, 258], "rejected_ids": [3]}
                """);
        fails(p, 2, () -> Jsonl.readTokenizedPairs(p, tok), "\"chosen_ids\"", "token id 258", "0..257");
        Path q = put("neg.jsonl", "{\"prompt_ids\": [-1]}\n");
        fails(q, 1, () -> Jsonl.readTokenizedPrompts(q, tok), "token id -1");
    }

    @Test
    void mixingFormsAndKinds() throws IOException {
        Path p = put("mixed.jsonl", """
                {"prompt": "a", "chosen": "b", "rejected": "c"}
                {"prompt_ids": [1], "chosen_ids": [2], "rejected_ids": [3]}
                """);
        fails(p, 2, () -> Jsonl.readTokenizedPairs(p, tok), "token ids", "line 1 uses text");
        fails(p, 2, () -> Jsonl.readPairs(p), "got token ids");
        Path q = put("kinds.jsonl", """
                {"prompt": "a", "chosen": "b", "rejected": "c"}
                {"prompt": "a", "completion": "b"}
                """);
        fails(q, 2, () -> Jsonl.kindOf(q), "prompt/completion", "line 1 is a preference pair");
        fails(q, 2, () -> Jsonl.readPairs(q), "\"chosen\" is missing");
        Path r = put("amb.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\", \"chosen\": \"c\", \"rejected\": \"d\"}\n");
        fails(r, 1, () -> Jsonl.kindOf(r), "ambiguous");
        Path s = put("idsfortext.jsonl", "{\"prompt_ids\": [1], \"completion_ids\": [2]}\n");
        fails(s, 1, () -> Jsonl.readSft(s), "got token ids");
    }

    @Test
    void emptyAndMissingFiles() throws IOException {
        Path p = put("empty.jsonl", "");
        fails(p, 0, () -> Jsonl.readPairs(p), "empty file");
        Path q = put("blank.jsonl", "\n   \n\t\n");
        fails(q, 0, () -> Jsonl.readPrompts(q), "empty file");
        Path r = dir.resolve("absent.jsonl");
        fails(r, 0, () -> Jsonl.readPrompts(r), "no such file");
        Path bad = dir.resolve("latin1.jsonl");
        byte[] good = "{\"prompt\":\"ok\"}\n".repeat(5000).getBytes(StandardCharsets.UTF_8);
        byte[] latin1 = {'{', '"', 'p', 'r', 'o', 'm', 'p', 't', '"', ':', '"', (byte) 0xE9, '"', '}', '\n'};
        Files.write(bad, java.nio.ByteBuffer.allocate(good.length + latin1.length).put(good).put(latin1).array());
        fails(bad, 5001, () -> Jsonl.readPrompts(bad), "not valid UTF-8");
    }

    // ---------------------------------------------------------------- writing

    record Metric(int step, double loss, String method) { }

    @Test
    void writerAndAppender() throws IOException {
        Path p = dir.resolve("out/metrics.jsonl");
        try (Jsonl.Writer w = Jsonl.writer(p)) {
            w.write(new Metric(1, 0.5, "dpo"));
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("step", 2);
            m.put("text", "line\nbreak é");
            w.write(m);
        }
        try (Jsonl.Writer w = Jsonl.appender(p)) {
            w.write(new Metric(3, 0.25, "dpo"));
        }
        List<String> lines = Files.readAllLines(p);
        assertEquals(3, lines.size());
        assertEquals("{\"step\":1,\"loss\":0.5,\"method\":\"dpo\"}", lines.get(0));
        List<JsonlLine> back = Jsonl.readLines(p);
        assertEquals("line\nbreak é", back.get(1).node().get("text").textValue());
        assertEquals(3, back.get(2).node().get("step").intValue());
    }

    @Test
    void echoInputFieldsAndWriteAllAtomically() throws IOException {
        Path in = put("in.jsonl", "{\"prompt\":\"hi\",\"id\":\"q1\"}\n");
        PromptExample ex = Jsonl.readPrompts(in).get(0);
        ObjectNode out = ex.source().node().deepCopy();
        out.put("reward", 1.0);
        Path o = dir.resolve("scored.jsonl");
        Jsonl.writeAll(o, List.of(out, out));
        assertEquals(List.of("{\"prompt\":\"hi\",\"id\":\"q1\",\"reward\":1.0}", "{\"prompt\":\"hi\",\"id\":\"q1\",\"reward\":1.0}"),
                Files.readAllLines(o));
        assertEquals("{\"a\":[1,2]}", Jsonl.toLine(Map.of("a", new int[]{1, 2})));
        try (var files = Files.list(dir)) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().endsWith(".tmp")));
        }
    }
}
