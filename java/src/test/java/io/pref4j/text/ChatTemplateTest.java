package io.pref4j.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pref4j.UserInputException;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Jinjava renderings of the chat-template fixtures (structural copies of the Llama 3,
 * Qwen2.5, Qwen3, SmolLM2, Mistral and Zephyr templates, plus one of Python string methods)
 * against the ones jinja2 computes the way transformers does
 * (tools/chat_templates/render.py → expected.json).
 */
class ChatTemplateTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String DIR = "/chat_templates/";

    @TempDir
    Path dir;

    static JsonNode resource(String name) throws IOException {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream(DIR + name)) {
            assertNotNull(in, name);
            return JSON.readTree(in);
        }
    }

    static String text(String name) throws IOException {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream(DIR + name)) {
            assertNotNull(in, name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    static List<ChatMessage> messages(JsonNode arr) {
        List<ChatMessage> out = new ArrayList<>();
        for (JsonNode m : arr) {
            Map<String, Object> extra = new LinkedHashMap<>();
            for (Iterator<String> it = m.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!k.equals("role") && !k.equals("content")) extra.put(k, JSON.convertValue(m.get(k), Object.class));
            }
            out.add(new ChatMessage(m.get("role").textValue(), m.get("content").textValue(), extra));
        }
        return out;
    }

    static Map<String, ChatTemplate> templates() throws IOException {
        Map<String, ChatTemplate> out = new LinkedHashMap<>();
        JsonNode specs = resource("templates.json");
        for (Iterator<Map.Entry<String, JsonNode>> it = specs.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Map<String, Object> tokens = new LinkedHashMap<>();
            e.getValue().fields().forEachRemaining(f -> {
                if (f.getKey().endsWith("_token")) tokens.put(f.getKey(), f.getValue().textValue());
            });
            out.put(e.getKey(), new ChatTemplate(text(e.getValue().get("file").textValue()), e.getKey(), tokens));
        }
        return out;
    }

    @TestFactory
    List<DynamicTest> rendersLikeJinja2() throws IOException {
        Map<String, ChatTemplate> templates = templates();
        Map<String, JsonNode> cases = new HashMap<>();
        for (JsonNode c : resource("cases.json")) cases.put(c.get("name").textValue(), c);
        JsonNode expected = resource("expected.json").get("renderings");
        assertTrue(expected.size() >= 100, "expected.json has " + expected.size() + " renderings");
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode r : expected) {
            String t = r.get("template").textValue();
            String c = r.get("case").textValue();
            boolean gen = r.get("add_generation_prompt").booleanValue();
            tests.add(DynamicTest.dynamicTest(t + "/" + c + (gen ? "/gen" : ""), () -> {
                JsonNode cs = cases.get(c);
                Map<String, Object> vars = cs.has("vars") ? JSON.convertValue(cs.get("vars"), Map.class) : Map.of();
                ChatTemplate tmpl = templates.get(t);
                if (r.has("error")) {
                    UserInputException e = assertThrows(UserInputException.class,
                            () -> tmpl.render(messages(cs.get("messages")), gen, false, vars));
                    assertTrue(e.getMessage().startsWith(t + ": the chat template raised an exception: "), e.getMessage());
                    assertTrue(e.getMessage().endsWith(r.get("error").textValue()), e.getMessage());
                } else {
                    assertEquals(r.get("output").textValue(), tmpl.render(messages(cs.get("messages")), gen, false, vars));
                }
            }));
        }
        return tests;
    }

    @Test
    void continueFinalMessageCutsAfterTheLastMessage() throws IOException {
        ChatTemplate t = templates().get("qwen2_5");
        List<ChatMessage> m = List.of(new ChatMessage("user", "Name a colour."),
                new ChatMessage("assistant", "The colour is"));
        String out = t.render(m, false, true, Map.of());
        assertTrue(out.endsWith("<|im_start|>assistant\nThe colour is"), out);
        assertFalse(out.contains("The colour is<|im_end|>"), out);
    }

    @Test
    void generationBlockRendersItsBody() {
        ChatTemplate t = new ChatTemplate("{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}"
                + "A:{{ m.content }}{% endgeneration %}{% else %}U:{{ m.content }}|{% endif %}{% endfor %}", "gen", Map.of());
        assertEquals("U:hi|A:yo", t.render(List.of(new ChatMessage("user", "hi"), new ChatMessage("assistant", "yo")), false));
    }

    @Test
    void toJsonIsPythonStyle() {
        ChatTemplate t = new ChatTemplate("{{ messages[0] | tojson }}|{{ messages[0] | tojson(indent=2) }}", "j", Map.of());
        String out = t.render(List.of(new ChatMessage("user", "a\"b\n é", new java.util.LinkedHashMap<>(Map.of("n", 3)) {{ put("x", List.of(1.5, true)); }})), false);
        assertEquals("{\"role\": \"user\", \"content\": \"a\\\"b\\n é\", \"n\": 3, \"x\": [1.5, true]}|"
                + "{\n  \"role\": \"user\",\n  \"content\": \"a\\\"b\\n é\",\n  \"n\": 3,\n  \"x\": [\n    1.5,\n    true\n  ]\n}", out);
    }

    @Test
    void brokenTemplateNamesItsOrigin() {
        ChatTemplate t = new ChatTemplate("{% for m in messages %}{{ m.content }", "/m/tokenizer_config.json (chat_template)", Map.of());
        UserInputException e = assertThrows(UserInputException.class,
                () -> t.render(List.of(new ChatMessage("user", "x")), false));
        assertTrue(e.getMessage().startsWith("/m/tokenizer_config.json (chat_template): chat template error"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void rewriterTouchesOnlyCode() {
        assertEquals("{{ '[1:2] a=b' + pref4j_slice(x, 1, none, none) }}{# y[::-1] #}{% raw %}{{ z[1:] }}{% endraw %}",
                JinjaRewriter.rewrite("{{ '[1:2] a=b' + x[1:] }}{# y[::-1] #}{% raw %}{{ z[1:] }}{% endraw %}"));
        assertEquals("{%- set ns = namespace(a=(1), b=(m|length - 1)) -%}",
                JinjaRewriter.rewrite("{%- set ns = namespace(a=1, b=m|length - 1) -%}"));
        assertEquals("{{ pref4j_slice(m[0]['content'], -3, none, none) }}{{ x in [1, 2] }}{{ f(a == b) }}",
                JinjaRewriter.rewrite("{{ m[0]['content'][-3:] }}{{ x in [1, 2] }}{{ f(a == b) }}"));
        assertEquals("{{ pref4j_slice(pref4j_slice(m, 1, none, none), none, none, -1) }}",
                JinjaRewriter.rewrite("{{ m[1:][::-1] }}"));
    }

    @Test
    void pythonSlices() {
        assertEquals("olleh", JinjaRewriter.slice("hello", null, null, -1L));
        assertEquals("", JinjaRewriter.slice("hi", -5L, -4L, null));
        assertEquals("hi", JinjaRewriter.slice("hi", -5L, null, null));
        assertEquals("🎉b", JinjaRewriter.slice("a🎉b", 1L, null, null));
        assertEquals(List.of(3, 1), JinjaRewriter.slice(List.of(1, 2, 3), null, null, -2L));
        assertEquals(List.of(2), JinjaRewriter.slice(List.of(1, 2, 3), 1L, -1L, null));
    }

    @Test
    void messagesAreNeverRenderedAgain() {
        ChatTemplate t = new ChatTemplate("{% for m in messages %}[{{ m.content }}]{% endfor %}", "t", Map.of());
        assertEquals("[{{ 6 * 7 }}{% if true %}x{% endif %}]",
                t.render(List.of(new ChatMessage("user", "{{ 6 * 7 }}{% if true %}x{% endif %}")), false));
    }

    @Test
    void unknownFilterIsAnError() {
        ChatTemplate t = new ChatTemplate("{{ messages[0].content | nosuchfilter }}{% if x is not nosuchtest %}{% endif %}"
                + "{{ '| notafilter' }}{{ x|trim|length }}{% if x is defined and y is not none %}{% endif %}", "t", Map.of());
        UserInputException e = assertThrows(UserInputException.class, () -> t.render(List.of(new ChatMessage("user", "x")), false));
        assertEquals("t: chat template error: unknown filter 'nosuchfilter', test 'nosuchtest'", e.getMessage());
    }

    @Test
    void fromModelFolder() throws IOException {
        assertTrue(ChatTemplate.fromModelFolder(dir).isEmpty());
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"bos_token": {"__type": "AddedToken", "content": "<s>", "special": true}, "eos_token": "</s>",
                 "chat_template": [{"name": "tool_use", "template": "T"},
                                   {"name": "default", "template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"}]}
                """);
        ChatTemplate t = ChatTemplate.fromModelFolder(dir).orElseThrow();
        assertEquals("<s>hi</s>", t.render(List.of(new ChatMessage("user", "hi")), true));
        assertEquals(dir.resolve("tokenizer_config.json") + " (chat_template)", t.origin());

        // no chat_template key: chat_template.jinja beside it
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        Files.writeString(dir.resolve("chat_template.jinja"), "{{ messages|length }}{{ eos_token }}\n");
        assertEquals("1</s>", ChatTemplate.fromModelFolder(dir).orElseThrow().render(List.of(new ChatMessage("user", "x")), false));

        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": 7}");
        UserInputException e = assertThrows(UserInputException.class, () -> ChatTemplate.fromModelFolder(dir));
        assertTrue(e.getMessage().contains("tokenizer_config.json: \"chat_template\" must be a string"), e.getMessage());
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"x\",}");
        e = assertThrows(UserInputException.class, () -> ChatTemplate.fromModelFolder(dir));
        assertTrue(e.getMessage().contains("tokenizer_config.json: malformed JSON at line 1"), e.getMessage());
    }
}
