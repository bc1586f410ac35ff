package io.pref4j.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import io.pref4j.UserInputException;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELResolver;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A model's chat template ({@code chat_template} in tokenizer_config.json, a Jinja
 * template), rendered with Jinjava the way transformers' {@code apply_chat_template}
 * renders it with Jinja2: {@code trim_blocks} and {@code lstrip_blocks} on, one trailing
 * newline of the template dropped, the variables {@code messages}, {@code tools = none},
 * {@code documents = none}, {@code add_generation_prompt} and the special tokens
 * ({@code bos_token}, {@code eos_token}, ...), and the helpers {@code raise_exception()}
 * and {@code tojson}. Python's str and dict methods that templates call
 * ({@code startswith}, {@code split}, {@code strip('\n')}, {@code get(k, default)}, ...) behave
 * as in Python, and so do slices ({@code messages[1:]}, {@code messages[::-1]}) and keyword
 * arguments ({@code namespace(i=messages|length - 1)}), which {@link JinjaRewriter}
 * rewrites for Jinjava. {@code strftime_now} is not defined, so
 * templates that print today's date fall back to their fixed one and renderings are
 * reproducible. Immutable and thread-safe.
 */
public final class ChatTemplate {

    private static final ELResolver RESOLVER = new CompositeELResolver() {
        {
            add(new PyCompat.MethodResolver());
            add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        }
    };

    private final String source;
    private final String prepared;
    private final String origin;
    private final Map<String, Object> specialTokens;
    private final Jinjava jinjava;
    private final String unknownNames;

    /**
     * A template.
     *
     * @param source        the Jinja source
     * @param origin        where it came from, for messages (e.g. {@code "/m/tokenizer_config.json (chat_template)"})
     * @param specialTokens the variables transformers passes beside the messages:
     *                      {@code bos_token}, {@code eos_token}, {@code pad_token}, ... (values
     *                      are strings, or a list of strings for {@code additional_special_tokens})
     */
    public ChatTemplate(String source, String origin, Map<String, ?> specialTokens) {
        this.source = Objects.requireNonNull(source, "source");
        this.origin = Objects.requireNonNull(origin, "origin");
        this.specialTokens = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(
                specialTokens == null ? Map.of() : specialTokens));
        String s = source;
        // Jinja2's keep_trailing_newline=False: one newline at the very end of the source goes
        if (s.endsWith("\r\n")) s = s.substring(0, s.length() - 2);
        else if (s.endsWith("\n")) s = s.substring(0, s.length() - 1);
        this.prepared = JinjaRewriter.rewrite(s);
        JinjavaConfig cfg = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withElResolver(RESOLVER)
                // Jinja2's behaviour where Jinjava has a legacy one: operator precedence, Python-style
                // output of lists and dicts, strict whitespace control, map keys evaluated
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withEvaluateMapKeys(true)
                        .withIterateOverMapKeys(true)
                        .withUsePyishObjectMapper(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withAllowAdjacentTextNodes(true)
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                // never render a value as a template again ("{{" inside a message stays text)
                .withNestedInterpretationEnabled(false)
                .withExecutionMode(PyCompat.EXECUTION_MODE)
                .withFailOnUnknownTokens(false)
                .build();
        this.jinjava = new Jinjava(cfg);
        this.jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                PyCompat.class, "raiseException", Object.class));
        this.jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", JinjaRewriter.SLICE_FN,
                JinjaRewriter.class, "slice", Object.class, Object.class, Object.class, Object.class));
        this.jinjava.getGlobalContext().registerFilter(new PyCompat.ToJsonFilter());
        this.jinjava.getGlobalContext().registerTag(new PyCompat.GenerationTag());
        // Jinja2 refuses a template with an unknown filter or test; Jinjava passes the value through
        List<String> unknown = new ArrayList<>();
        for (String name : JinjaRewriter.filtersAndTests(s)) {
            String n = name.substring(name.indexOf(':') + 1);
            boolean known = name.startsWith("filter:") ? jinjava.getGlobalContext().getFilter(n) != null
                    : jinjava.getGlobalContext().getExpTest(n) != null;
            if (!known) unknown.add(name.replace(":", " '") + "'");
        }
        this.unknownNames = unknown.isEmpty() ? null : String.join(", ", unknown);
    }

    /** The Jinja source as given. */
    public String source() {
        return source;
    }

    /** Where the template came from. */
    public String origin() {
        return origin;
    }

    /** The special-token variables the template sees. */
    public Map<String, Object> specialTokens() {
        return specialTokens;
    }

    /**
     * Renders a conversation.
     *
     * @param addGenerationPrompt append the header that starts the assistant's reply
     * @throws UserInputException naming the template's origin when the template fails or
     *                            calls {@code raise_exception}
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, false, Map.of());
    }

    /**
     * Renders a conversation, as transformers' {@code apply_chat_template(messages,
     * add_generation_prompt=..., continue_final_message=..., **vars)}.
     *
     * @param continueFinalMessage leave the final message open (no end-of-turn after it), for a
     *                             prompt that ends with the start of the assistant's reply
     * @param vars                 further template variables (e.g. {@code enable_thinking})
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, boolean continueFinalMessage,
                         Map<String, ?> vars) {
        if (unknownNames != null) {
            throw new UserInputException(origin + ": chat template error: unknown " + unknownNames);
        }
        if (addGenerationPrompt && continueFinalMessage) {
            throw new IllegalArgumentException("add_generation_prompt and continue_final_message are exclusive");
        }
        List<Map<String, Object>> msgs = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) msgs.add(m.asMap());
        Map<String, Object> ctx = new LinkedHashMap<>(specialTokens);
        ctx.put("messages", msgs);
        ctx.put("tools", null);
        ctx.put("documents", null);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        if (vars != null) ctx.putAll(vars);
        RenderResult r = jinjava.renderForResult(prepared, ctx);
        for (TemplateError e : r.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) throw failure(e);
        }
        String out = r.getOutput();
        if (continueFinalMessage) out = cutAfterFinal(out, messages);
        return out;
    }

    /** transformers' continue_final_message: cut the rendering right after the last message's text. */
    private String cutAfterFinal(String rendered, List<ChatMessage> messages) {
        if (messages.isEmpty()) throw new IllegalArgumentException("no final message to continue");
        String fin = messages.get(messages.size() - 1).content();
        String stripped = PyCompat.strip(fin, null, true, true);
        int at = rendered.lastIndexOf(stripped);
        if (at < 0) {
            throw new UserInputException(origin + ": the final message does not appear in the rendered chat,"
                    + " so it cannot be continued (the template changes the message's text)");
        }
        String lstripped = PyCompat.strip(fin, null, true, false);
        if (rendered.startsWith(fin, at) && fin.equals(lstripped)) return rendered.substring(0, at + lstripped.length());
        return rendered.substring(0, at + stripped.length());
    }

    private UserInputException failure(TemplateError e) {
        for (Throwable t = e.getException(); t != null; t = t.getCause()) {
            if (t instanceof PyCompat.RaisedException raised) {
                return new UserInputException(origin + ": the chat template raised an exception: " + raised.getMessage());
            }
            if (t.getCause() == t) break;
        }
        String msg = e.getMessage() == null ? String.valueOf(e.getReason()) : e.getMessage().replace('\n', ' ');
        if (msg.length() > 200) msg = msg.substring(0, 197) + "...";
        return new UserInputException(origin + ": chat template error at template line " + e.getLineno() + ": " + msg);
    }

    // ------------------------------------------------------------------ from a model folder

    /**
     * The chat template of a model folder: tokenizer_config.json's {@code chat_template} (a
     * string, or a list of {@code {"name", "template"}} of which {@code "default"} is taken),
     * else a {@code chat_template.jinja} file, else {@code chat_template.json}'s
     * {@code chat_template}; with the special tokens of tokenizer_config.json.
     *
     * @return empty when the folder has none
     * @throws UserInputException if one of those files is malformed
     */
    public static Optional<ChatTemplate> fromModelFolder(Path dir) {
        Path cfgFile = dir.resolve(HfTokenizer.TOKENIZER_CONFIG);
        JsonNode cfg = Files.isRegularFile(cfgFile) ? HfTokenizer.readJson(cfgFile) : null;
        Map<String, Object> tokens = cfg == null ? Map.of() : specialTokens(cfg, cfgFile);
        if (cfg != null && cfg.hasNonNull("chat_template")) {
            return Optional.of(new ChatTemplate(templateText(cfg.get("chat_template"), cfgFile, "chat_template"),
                    cfgFile + " (chat_template)", tokens));
        }
        Path jinja = dir.resolve("chat_template.jinja");
        if (Files.isRegularFile(jinja)) {
            try {
                return Optional.of(new ChatTemplate(Files.readString(jinja, StandardCharsets.UTF_8), jinja.toString(), tokens));
            } catch (IOException e) {
                throw new UserInputException(jinja + ": cannot read: " + e.getMessage(), e);
            }
        }
        Path json = dir.resolve("chat_template.json");
        if (Files.isRegularFile(json)) {
            JsonNode n = HfTokenizer.readJson(json);
            if (!n.hasNonNull("chat_template")) {
                throw new UserInputException(json + ": expected a \"chat_template\" key");
            }
            return Optional.of(new ChatTemplate(templateText(n.get("chat_template"), json, "chat_template"),
                    json + " (chat_template)", tokens));
        }
        return Optional.empty();
    }

    private static String templateText(JsonNode t, Path file, String key) {
        if (t.isTextual()) return t.textValue();
        if (t.isArray()) {
            List<String> names = new ArrayList<>();
            for (JsonNode e : t) {
                if (!e.isObject() || !e.path("name").isTextual() || !e.path("template").isTextual()) {
                    throw new UserInputException(file + ": \"" + key
                            + "\" must be a string or a list of {\"name\", \"template\"} objects");
                }
                if (e.get("name").textValue().equals("default")) return e.get("template").textValue();
                names.add(e.get("name").textValue());
            }
            throw new UserInputException(file + ": \"" + key + "\" has no template named \"default\" (has "
                    + String.join(", ", names) + ")");
        }
        throw new UserInputException(file + ": \"" + key + "\" must be a string, got " + t.getNodeType().toString().toLowerCase());
    }

    /** The special-token variables of a tokenizer_config.json (strings or AddedToken objects). */
    static Map<String, Object> specialTokens(JsonNode cfg, Path file) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (String k : new String[]{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
            String v = HfTokenizer.tokenText(cfg.get(k), file, k);
            if (v != null) out.put(k, v);
        }
        JsonNode extra = cfg.get("additional_special_tokens");
        if (extra != null && extra.isArray()) {
            List<String> l = new ArrayList<>();
            for (int i = 0; i < extra.size(); i++) {
                String v = HfTokenizer.tokenText(extra.get(i), file, "additional_special_tokens[" + i + "]");
                if (v != null) l.add(v);
            }
            out.put("additional_special_tokens", l);
        }
        return out;
    }

    @Override
    public String toString() {
        return "ChatTemplate(" + origin + ")";
    }
}
