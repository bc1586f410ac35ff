package io.pref4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pref4j.UserInputException;
import io.pref4j.text.ByteTokenizer;
import io.pref4j.text.ChatTemplate;
import io.pref4j.text.HfTokenizer;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * TRL's conversational and implicit-prompt dataset forms: Jsonl's conversions of the
 * fixtures in resources/datasets against the ones tools/chat_templates/trl_rows.py computes
 * with jinja2 and TRL's rules (expected_rows.json), and the bad inputs.
 */
class JsonlConversationalTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    static Path resource(String path) {
        try {
            return Path.of(JsonlConversationalTest.class.getResource(path).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Map<String, ChatTemplate> templates() throws IOException {
        JsonNode specs = JSON.readTree(resource("/chat_templates/templates.json").toFile());
        Map<String, ChatTemplate> out = new LinkedHashMap<>();
        specs.fields().forEachRemaining(e -> {
            Map<String, Object> tokens = new LinkedHashMap<>();
            e.getValue().fields().forEachRemaining(f -> {
                if (f.getKey().endsWith("_token")) tokens.put(f.getKey(), f.getValue().textValue());
            });
            try {
                String src = Files.readString(resource("/chat_templates/" + e.getValue().get("file").textValue()));
                out.put(e.getKey(), new ChatTemplate(src, e.getKey(), tokens));
            } catch (IOException x) {
                throw new IllegalStateException(x);
            }
        });
        return out;
    }

    Path put(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, content, StandardCharsets.UTF_8);
        return p;
    }

    static void fails(Path file, int line, Runnable r, String... fragments) {
        UserInputException e = assertThrows(UserInputException.class, r::run);
        String m = e.getMessage();
        String prefix = file + ":" + line + ": ";
        assertTrue(m.startsWith(prefix), "expected prefix " + prefix + " in: " + m);
        assertFalse(m.contains("\n"), m);
        for (String f : fragments) assertTrue(m.contains(f), "expected '" + f + "' in: " + m);
    }

    // ------------------------------------------------------------------ against the reference

    @TestFactory
    List<DynamicTest> convertsLikeTrl() throws IOException {
        Map<String, ChatTemplate> templates = templates();
        JsonNode rows = JSON.readTree(resource("/datasets/expected_rows.json").toFile()).get("rows");
        assertTrue(rows.size() >= 60, "rows: " + rows.size());
        Map<String, Object> cache = new LinkedHashMap<>();
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode r : rows) {
            String t = r.get("template").textValue(), file = r.get("file").textValue(), kind = r.get("kind").textValue();
            int line = r.get("line").intValue();
            tests.add(DynamicTest.dynamicTest(t + "/" + file + ":" + line, () -> {
                Path p = resource("/datasets/" + file);
                ChatTemplate ct = templates.get(t);
                List<?> got = (List<?>) cache.computeIfAbsent(t + file, k -> switch (kind) {
                    case "pairs" -> Jsonl.readPairs(p, ct);
                    case "sft" -> Jsonl.readSft(p, ct);
                    default -> Jsonl.readPrompts(p, ct);
                });
                Object row = got.get(line - 1);
                switch (row) {
                    case PreferencePair pp -> {
                        assertEquals(r.get("prompt").textValue(), pp.prompt());
                        assertEquals(r.get("chosen").textValue(), pp.chosen());
                        assertEquals(r.get("rejected").textValue(), pp.rejected());
                        assertEquals(line, pp.source().line());
                    }
                    case SftExample s -> {
                        assertEquals(r.get("prompt").textValue(), s.prompt());
                        assertEquals(r.get("completion").textValue(), s.completion());
                    }
                    case PromptExample pe -> assertEquals(r.get("prompt").textValue(), pe.prompt());
                    default -> fail("unexpected " + row);
                }
            }));
        }
        return tests;
    }

    @Test
    void extraFieldsStayInTheSourceLine() throws IOException {
        List<PreferencePair> pairs = Jsonl.readPairs(resource("/datasets/pairs_conversational.jsonl"), templates().get("smollm2"));
        assertEquals(7, pairs.get(1).source().node().get("id").intValue());
        List<SftExample> kto = Jsonl.readSft(resource("/datasets/sft_conversational.jsonl"), templates().get("smollm2"));
        assertFalse(kto.get(1).source().node().get("label").booleanValue());
        assertEquals(Jsonl.Kind.SFT_TEXT, Jsonl.kindOf(resource("/datasets/sft_messages.jsonl")));
    }

    @Test
    void implicitStringsNeedNoTemplate() {
        List<PreferencePair> p = Jsonl.readPairs(resource("/datasets/pairs_implicit_strings.jsonl"));
        assertEquals("Q: 2+2? A:", p.get(0).prompt());
        assertEquals(" 4", p.get(0).chosen());
        List<PromptExample> prompts = Jsonl.readPrompts(resource("/datasets/pairs_implicit_strings.jsonl"));
        assertEquals("Tell me a joke.\n", prompts.get(1).prompt());
    }

    // ------------------------------------------------------------------ tokenized, with a model folder's tokenizer

    @Test
    void tokenizedWithTheTokenizersTemplate() {
        HfTokenizer tok = HfTokenizer.load(resource("/tokenizers/bytelevel/tokenizer.json").getParent());
        List<TokenizedPair> pairs = Jsonl.readTokenizedPairs(resource("/datasets/pairs_implicit_conversational.jsonl"), tok);
        TokenizedPair p = pairs.get(0);
        // <|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n
        assertEquals(262, p.promptIds()[0]);
        assertArrayEquals(new int[]{262, 97, 115, 115, 105, 115, 116, 97, 110, 116, 10},
                Arrays.copyOfRange(p.promptIds(), p.promptIds().length - 11, p.promptIds().length));
        assertEquals("user\nWhat is 2+2?\nassistant\n", tok.decode(p.promptIds()));
        assertArrayEquals(new int[]{52, 263, 10}, p.chosenIds());    // "4<|im_end|>\n"
        assertArrayEquals(new int[]{50, 50, 263, 10}, p.rejectedIds()); // "22<|im_end|>\n"
        List<TokenizedExample> prompts = Jsonl.readTokenizedPrompts(resource("/datasets/prompts_conversational.jsonl"), tok);
        assertEquals("system\nYou are a poet.\nuser\nA limerick, please.\nassistant\n", tok.decode(prompts.get(1).promptIds()));
        List<TokenizedExample> sft = Jsonl.readTokenizedSft(resource("/datasets/sft_messages.jsonl"), tok);
        assertArrayEquals(new int[]{72, 105, 33, 263, 10}, sft.get(0).completionIds()); // "Hi!<|im_end|>\n"
        // the standard form reads as before
        assertEquals(3, Jsonl.tokenizePair(new JsonlLine(dir, 1, (com.fasterxml.jackson.databind.node.ObjectNode)
                JSON.createObjectNode().put("prompt", "a").put("chosen", "abc").put("rejected", "d")), tok).chosenIds().length);
    }

    // ------------------------------------------------------------------ bad input

    @Test
    void conversationalWithoutATemplate() throws IOException {
        Path p = resource("/datasets/pairs_conversational.jsonl");
        fails(p, 1, () -> Jsonl.readPairs(p), "the line is conversational", "no chat template is available",
                "tokenizer_config.json has a \"chat_template\"");
        fails(p, 1, () -> Jsonl.readTokenizedPairs(p, ByteTokenizer.INSTANCE), "no chat template is available");
        Path s = resource("/datasets/sft_messages.jsonl");
        fails(s, 1, () -> Jsonl.readSft(s), "no chat template is available");
        HfTokenizer noTemplate = HfTokenizer.load(resource("/tokenizers/metaspace/tokenizer.json").getParent());
        fails(s, 1, () -> Jsonl.readTokenizedSft(s, noTemplate), "no chat template is available");
    }

    @Test
    void badMessages() throws IOException {
        ChatTemplate t = templates().get("smollm2");
        String ok = "{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"a\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"b\"}]}\n";
        Path role = put("role.jsonl", ok + "{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], \"chosen\": [{\"role\": \"bot\", \"content\": \"a\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"b\"}]}\n");
        fails(role, 2, () -> Jsonl.readPairs(role, t), "\"chosen\"[0].role \"bot\" is not a known role", "system, developer, user, assistant");
        Path roleType = put("roletype.jsonl", "{\"prompt\": [{\"role\": 1, \"content\": \"q\"}], \"chosen\": [], \"rejected\": []}\n");
        fails(roleType, 1, () -> Jsonl.readPairs(roleType, t), "\"prompt\"[0].role must be a string, got number 1");
        Path content = put("content.jsonl", "{\"prompt\": [{\"role\": \"user\", \"content\": [\"q\"]}], \"completion\": [{\"role\": \"assistant\", \"content\": \"a\"}]}\n");
        fails(content, 1, () -> Jsonl.readSft(content, t), "\"prompt\"[0].content must be a string, got array [\"q\"]");
        Path noContent = put("nocontent.jsonl", "{\"messages\": [{\"role\": \"user\"}, {\"role\": \"assistant\", \"content\": \"a\"}]}\n");
        fails(noContent, 1, () -> Jsonl.readSft(noContent, t), "\"messages\"[0] has no \"content\"");
        Path notObj = put("notobj.jsonl", "{\"prompt\": [\"hi\"]}\n");
        fails(notObj, 1, () -> Jsonl.readPrompts(notObj, t), "\"prompt\"[0] must be a {\"role\", \"content\"} object, got string");
        Path empty = put("empty.jsonl", "{\"prompt\": [], \"completion\": [{\"role\": \"assistant\", \"content\": \"a\"}]}\n");
        fails(empty, 1, () -> Jsonl.readSft(empty, t), "\"prompt\" is an empty list of messages");
        Path endsUser = put("endsuser.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"user\", \"content\": \"q2\"}]}\n");
        fails(endsUser, 1, () -> Jsonl.readSft(endsUser, t), "\"messages\" must hold a prompt and end with the assistant's reply");
        Path sys = put("sys.jsonl", "{\"prompt\": [{\"role\": \"system\", \"content\": \"s\"}]}\n");
        fails(sys, 1, () -> Jsonl.readPrompts(sys, t), "the last message of \"prompt\" is from \"system\"");
        Path ambiguous = put("amb.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}], \"prompt\": [{\"role\": \"user\", \"content\": \"q\"}]}\n");
        fails(ambiguous, 1, () -> Jsonl.readSft(ambiguous, t), "ambiguous line: it has both \"messages\" and \"prompt\"");
        Path noShared = put("noshared.jsonl", "{\"chosen\": [{\"role\": \"user\", \"content\": \"a\"}], \"rejected\": [{\"role\": \"user\", \"content\": \"b\"}]}\n");
        fails(noShared, 1, () -> Jsonl.readPairs(noShared, t), "do not begin with the same messages");
        Path noPrefix = put("noprefix.jsonl", "{\"chosen\": \"yes\", \"rejected\": \"no\"}\n");
        fails(noPrefix, 1, () -> Jsonl.readPairs(noPrefix), "no common beginning to take as the prompt");
    }

    @Test
    void mixedFormatsInOneFile() throws IOException {
        ChatTemplate t = templates().get("smollm2");
        Path mixed = put("mixed.jsonl", "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": \"b\"}\n"
                + "{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"a\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"b\"}]}\n");
        fails(mixed, 2, () -> Jsonl.readPairs(mixed, t), "line is conversational", "but line 1 is standard (strings)", "one format");
        fails(mixed, 2, () -> Jsonl.readTokenizedPairs(mixed, ByteTokenizer.INSTANCE, t), "but line 1 is standard");
        Path implicit = put("implicit.jsonl", "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": \"b\"}\n"
                + "{\"chosen\": \"q a\", \"rejected\": \"q b\"}\n");
        fails(implicit, 2, () -> Jsonl.readPairs(implicit), "line has no \"prompt\" (an implicit prompt) but line 1 has one");
        Path inLine = put("inline.jsonl", "{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], \"completion\": \"a\"}\n");
        fails(inLine, 1, () -> Jsonl.readSft(inLine, t), "\"prompt\" is a list of messages but \"completion\" is a string");
        Path ids = put("ids.jsonl", "{\"prompt_ids\": [1], \"completion_ids\": [2]}\n{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], \"completion\": [{\"role\": \"assistant\", \"content\": \"a\"}]}\n");
        fails(ids, 2, () -> Jsonl.readTokenizedSft(ids, ByteTokenizer.INSTANCE, t), "uses text but line 1 uses token ids");
    }

    @Test
    void templateErrorsNameTheLine() throws IOException {
        ChatTemplate mistral = templates().get("mistral");
        Path p = put("sys.jsonl", "{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"a\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"b\"}]}\n"
                + "{\"prompt\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"q\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"a\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"b\"}]}\n");
        fails(p, 2, () -> Jsonl.readPairs(p, mistral),
                "mistral: the chat template raised an exception: Conversation roles must alternate user/assistant/user/assistant/...");
        // a template that renders earlier turns differently once a reply follows
        ChatTemplate unstable = new ChatTemplate("{% for m in messages %}{{ m.role }}:{{ m.content }}"
                + "{% if messages[-1].role == 'assistant' %}!{% endif %}|{% endfor %}"
                + "{% if add_generation_prompt %}assistant:{% endif %}", "unstable", Map.of());
        Path q = put("q.jsonl", "{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], \"completion\": [{\"role\": \"assistant\", \"content\": \"a\"}]}\n");
        fails(q, 1, () -> Jsonl.readSft(q, unstable), "rendering of the prompt followed by \"completion\" does not begin with"
                + " its rendering of the prompt alone (they differ at character 6: \"|assistant:\" vs \"!|assistant:a!|\")");
        // a message that looks like a template stays text
        ChatTemplate smol = templates().get("smollm2");
        Path inj = put("inj.jsonl", "{\"prompt\": [{\"role\": \"user\", \"content\": \"{{ 7 * 6 }}{% if true %}x{% endif %}\"}]}\n");
        assertTrue(Jsonl.readPrompts(inj, smol).get(0).prompt().contains("user\n{{ 7 * 6 }}{% if true %}x{% endif %}<|im_end|>"));
    }
}
