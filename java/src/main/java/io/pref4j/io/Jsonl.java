package io.pref4j.io;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.text.ChatMessage;
import io.pref4j.text.ChatTemplate;
import io.pref4j.text.Tokenizer;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.BufferedWriter;
import java.io.Closeable;
import java.io.Flushable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * JSONL datasets (one JSON object per line, blank lines skipped) in the layouts TRL users
 * have, and a small JSONL writer for outputs.
 *
 * <table>
 *   <caption>Line kinds</caption>
 *   <tr><th>kind</th><th>text form</th><th>token-id form</th></tr>
 *   <tr><td>pair</td><td>{@code prompt, chosen, rejected}</td>
 *       <td>{@code prompt_ids, chosen_ids, rejected_ids}</td></tr>
 *   <tr><td>SFT</td><td>{@code prompt, completion}</td>
 *       <td>{@code prompt_ids, completion_ids}</td></tr>
 *   <tr><td>prompt</td><td>{@code prompt}</td><td>{@code prompt_ids}</td></tr>
 * </table>
 *
 * <p>The text form comes in TRL's variants (docs/formats.md):
 * <ul>
 *   <li><b>standard</b>: the fields are strings;</li>
 *   <li><b>conversational</b>: the fields are lists of {@code {"role", "content"}} messages,
 *       and SFT may be {@code {"messages": [...]}}; they are rendered with the model's chat
 *       template, as TRL does: the prompt with the generation prompt, a response as the
 *       rendering of prompt + response minus the prompt's rendering;</li>
 *   <li><b>implicit prompt</b>: a pair with only {@code chosen} and {@code rejected} (strings
 *       or message lists); the prompt is their shared beginning (TRL's extract_prompt).</li>
 * </ul>
 * The readers that take a {@link ChatTemplate} (or a {@link Tokenizer}, whose
 * {@link Tokenizer#chatTemplate()} is used) render conversational lines; the others, and
 * a tokenizer without a template, reject them with a message naming the line.
 *
 * <p>A line is in the id form when it has any {@code *_ids} field (text fields beside them
 * are then kept as extras). Other fields are always kept in {@link JsonlLine#node()}.
 * A file must use one form throughout; mixing text and id lines, strings and message lists,
 * or explicit and implicit prompts is an error. Every problem is a
 * {@link UserInputException} whose message starts with {@code file:line:}.
 */
public final class Jsonl {

    static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET)
            .build();

    static final String PAIR_TEXT = "a JSON object with \"prompt\", \"chosen\" and \"rejected\"";
    static final String PAIR_IDS = "a JSON object with \"prompt_ids\", \"chosen_ids\" and \"rejected_ids\"";
    static final String SFT_TEXT = "a JSON object with \"prompt\" and \"completion\"";
    static final String SFT_IDS = "a JSON object with \"prompt_ids\" and \"completion_ids\"";
    static final String PROMPT_TEXT = "a JSON object with \"prompt\"";
    static final String PROMPT_IDS = "a JSON object with \"prompt_ids\"";
    static final String ANY = "a JSON object with \"prompt\" and \"completion\" (or \"chosen\"/\"rejected\","
            + " or \"prompt\" alone, or the same with \"_ids\")";

    private Jsonl() {
    }

    /** What a line holds. */
    public enum Kind {
        /** {@code prompt, chosen, rejected}. */
        PAIR_TEXT(true, false, false),
        /** {@code prompt_ids, chosen_ids, rejected_ids}. */
        PAIR_IDS(true, false, true),
        /** {@code prompt, completion}. */
        SFT_TEXT(false, true, false),
        /** {@code prompt_ids, completion_ids}. */
        SFT_IDS(false, true, true),
        /** {@code prompt}. */
        PROMPT_TEXT(false, false, false),
        /** {@code prompt_ids}. */
        PROMPT_IDS(false, false, true);

        private final boolean pair;
        private final boolean sft;
        private final boolean ids;

        Kind(boolean pair, boolean sft, boolean ids) {
            this.pair = pair;
            this.sft = sft;
            this.ids = ids;
        }

        /** A preference pair. */
        public boolean isPair() {
            return pair;
        }

        /** A prompt with a completion. */
        public boolean isSft() {
            return sft;
        }

        /** A prompt alone. */
        public boolean isPromptOnly() {
            return !pair && !sft;
        }

        /** Token ids rather than text. */
        public boolean isIds() {
            return ids;
        }
    }

    // ------------------------------------------------------------------ reading lines

    /**
     * Every non-blank line of the file parsed as a JSON object.
     *
     * @throws UserInputException if the file is missing, not UTF-8, empty, or a line is not
     *                            a single JSON object
     */
    public static List<JsonlLine> readLines(Path file) {
        Objects.requireNonNull(file, "file");
        List<JsonlLine> out = new ArrayList<>();
        int lineNo = 0;
        CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            ByteArrayOutputStream buf = new ByteArrayOutputStream(256);
            boolean more = true;
            while (more) {
                int c;
                buf.reset();
                while ((c = in.read()) != -1 && c != '\n') {
                    buf.write(c);
                }
                more = c != -1;
                if (!more && buf.size() == 0) {
                    break;
                }
                lineNo++;
                String s;
                try {
                    s = utf8.decode(ByteBuffer.wrap(buf.toByteArray())).toString();
                } catch (CharacterCodingException e) {
                    throw new UserInputException(file + ":" + lineNo + ": not valid UTF-8", e);
                }
                if (lineNo == 1 && s.startsWith("\uFEFF")) {
                    s = s.substring(1);
                }
                if (s.isBlank()) {
                    continue;
                }
                out.add(parseLine(file, lineNo, s));
            }
        } catch (NoSuchFileException e) {
            throw new UserInputException(file + ": no such file", e);
        } catch (IOException e) {
            throw new UserInputException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw new UserInputException(file + ": empty file (expected one JSON object per line)");
        }
        return out;
    }

    /** Parses one line; {@code lineNo} is 1-based and only used in messages. */
    public static JsonlLine parseLine(Path file, int lineNo, String text) {
        JsonNode n;
        try {
            n = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new UserInputException(file + ":" + lineNo + ": malformed JSON ("
                    + clip(firstLine(e.getOriginalMessage()), 120) + "); expected one JSON object per line", e);
        }
        if (n == null || !n.isObject()) {
            throw new UserInputException(file + ":" + lineNo + ": expected a JSON object, got "
                    + (n == null ? "nothing" : JsonlLine.describe(n)));
        }
        return new JsonlLine(file, lineNo, (ObjectNode) n);
    }

    /**
     * The kind of one line.
     *
     * @throws UserInputException if it has none of the fields, or both a completion and a
     *                            chosen/rejected pair
     */
    public static Kind kindOf(JsonlLine line) {
        boolean ids = line.has("prompt_ids") || line.has("chosen_ids") || line.has("rejected_ids")
                || line.has("completion_ids");
        String sfx = ids ? "_ids" : "";
        boolean pair = line.has("chosen" + sfx) || line.has("rejected" + sfx);
        boolean sft = line.has("completion" + sfx);
        if (!ids && line.has("messages")) {
            for (String f : new String[]{"prompt", "completion", "chosen", "rejected"}) {
                if (line.has(f)) {
                    throw new UserInputException(line.where() + ": ambiguous line: it has both \"messages\" and \""
                            + f + "\"; expected a conversation in \"messages\" or the prompt/response fields");
                }
            }
            return Kind.SFT_TEXT;
        }
        if (pair && sft) {
            throw new UserInputException(line.where() + ": ambiguous line: it has both \"completion" + sfx
                    + "\" and \"chosen" + sfx + "\"/\"rejected" + sfx + "\"; expected one or the other");
        }
        if (pair) return ids ? Kind.PAIR_IDS : Kind.PAIR_TEXT;
        if (sft) return ids ? Kind.SFT_IDS : Kind.SFT_TEXT;
        if (line.has("prompt" + sfx)) return ids ? Kind.PROMPT_IDS : Kind.PROMPT_TEXT;
        throw new UserInputException(line.where() + ": expected " + ANY + ", got keys " + line.keysText());
    }

    /**
     * The kind of a whole file: every line must have the same kind.
     *
     * @throws UserInputException naming the first line whose kind differs from line 1's
     */
    public static Kind kindOf(Path file) {
        return uniformKind(readLines(file));
    }

    private static Kind uniformKind(List<JsonlLine> lines) {
        JsonlLine first = lines.get(0);
        Kind k = kindOf(first);
        for (JsonlLine l : lines) {
            Kind lk = kindOf(l);
            if (lk != k) {
                throw new UserInputException(l.where() + ": line is " + describe(lk) + " but line "
                        + first.line() + " is " + describe(k) + "; a file must hold one kind");
            }
        }
        return k;
    }

    private static void requireSameForm(List<JsonlLine> lines) {
        checkOneFormat(lines, true);
    }

    /**
     * Checks that every line is written like the first: token ids or text, strings or
     * message lists, and (when {@code pairs}) an explicit or an implicit prompt. For callers
     * that read lines themselves and convert them one at a time.
     *
     * @throws UserInputException naming the first line that differs from line 1
     */
    public static void checkOneFormat(List<JsonlLine> lines, boolean pairs) {
        JsonlLine first = lines.get(0);
        Conversations.Format f0 = Conversations.formatOf(first);
        boolean implicit0 = Conversations.implicitPrompt(first);
        for (JsonlLine l : lines) {
            Conversations.Format f = Conversations.formatOf(l);
            if ((f == Conversations.Format.IDS) != (f0 == Conversations.Format.IDS)) {
                boolean ids = f0 == Conversations.Format.IDS;
                throw new UserInputException(l.where() + ": line uses " + (ids ? "text" : "token ids")
                        + " but line " + first.line() + " uses " + (ids ? "token ids" : "text")
                        + "; a file must use one form");
            }
            if (f != f0) {
                throw new UserInputException(l.where() + ": line is " + f.what + " but line " + first.line() + " is "
                        + f0.what + "; a file must use one format");
            }
            if (pairs && Conversations.implicitPrompt(l) != implicit0) {
                throw new UserInputException(l.where() + ": line " + (implicit0 ? "has a \"prompt\"" : "has no \"prompt\""
                        + " (an implicit prompt)") + " but line " + first.line() + (implicit0 ? " has none (an implicit prompt)"
                        : " has one") + "; a file must use one form");
            }
        }
    }

    private static String describe(Kind k) {
        String what = k.isPair() ? "a preference pair" : k.isSft() ? "a prompt/completion example" : "a prompt";
        return what + (k.isIds() ? " (token ids)" : " (text)");
    }

    // ------------------------------------------------------------------ typed readers

    /**
     * Text preference pairs {@code {"prompt", "chosen", "rejected"}}, or with an implicit
     * prompt ({@code {"chosen", "rejected"}}); conversational lines are an error (use
     * {@link #readPairs(Path, ChatTemplate)}).
     */
    public static List<PreferencePair> readPairs(Path file) {
        return readPairs(file, null);
    }

    /**
     * Text preference pairs in any of TRL's text forms, conversational lines rendered with
     * {@code template} (null: none available, so conversational lines are an error).
     */
    public static List<PreferencePair> readPairs(Path file, ChatTemplate template) {
        List<JsonlLine> lines = readLines(file);
        List<PreferencePair> out = new ArrayList<>(lines.size());
        for (JsonlLine l : lines) rejectIds(l, PAIR_TEXT);
        checkOneFormat(lines, true);
        for (JsonlLine l : lines) out.add(pair(l, template));
        return out;
    }

    /**
     * Text SFT examples {@code {"prompt", "completion"}}; conversational lines are an error
     * (use {@link #readSft(Path, ChatTemplate)}).
     */
    public static List<SftExample> readSft(Path file) {
        return readSft(file, null);
    }

    /**
     * Text SFT examples: {@code {"prompt", "completion"}} as strings or message lists, or
     * {@code {"messages"}} (the completion is the final assistant message), conversational
     * lines rendered with {@code template} (null: none available).
     */
    public static List<SftExample> readSft(Path file, ChatTemplate template) {
        List<JsonlLine> lines = readLines(file);
        List<SftExample> out = new ArrayList<>(lines.size());
        for (JsonlLine l : lines) rejectIds(l, SFT_TEXT);
        checkOneFormat(lines, false);
        for (JsonlLine l : lines) out.add(sft(l, template));
        return out;
    }

    /**
     * Text prompts: every line's {@code "prompt"}; other fields (chosen, completion, a
     * reference answer, ...) are allowed and kept in the source line. A pair line without a
     * prompt gives its implicit prompt. Conversational lines are an error (use
     * {@link #readPrompts(Path, ChatTemplate)}).
     */
    public static List<PromptExample> readPrompts(Path file) {
        return readPrompts(file, null);
    }

    /**
     * Text prompts, conversational ones rendered with {@code template} (with the generation
     * prompt; null: none available). A {@code messages} line gives its conversation without
     * the final assistant message.
     */
    public static List<PromptExample> readPrompts(Path file, ChatTemplate template) {
        List<JsonlLine> lines = readLines(file);
        List<PromptExample> out = new ArrayList<>(lines.size());
        for (JsonlLine l : lines) {
            if (!l.has("prompt") && l.has("prompt_ids")) {
                rejectIds(l, PROMPT_TEXT);
            }
        }
        checkOneFormat(lines, false);
        for (JsonlLine l : lines) out.add(prompt(l, template));
        return out;
    }

    // ------------------------------------------------------------------ one line, text

    /**
     * One pair line (text forms) as strings: standard, implicit prompt, or conversational
     * rendered with {@code template} (null: none available).
     */
    public static PreferencePair pair(JsonlLine l, ChatTemplate template) {
        rejectIds(l, PAIR_TEXT);
        Conversations.Format f = Conversations.formatOf(l);
        boolean implicit = Conversations.implicitPrompt(l);
        if (f == Conversations.Format.STANDARD) {
            String p = implicit ? null : l.requireText("prompt", PAIR_TEXT);
            String c = l.requireText("chosen", PAIR_TEXT);
            String r = l.requireText("rejected", PAIR_TEXT);
            if (!implicit) return new PreferencePair(p, c, r, l);
            String[] s = Conversations.splitImplicit(l, c, r);
            return new PreferencePair(s[0], s[1], s[2], l);
        }
        ChatTemplate t = Conversations.require(l, template);
        List<ChatMessage> p = implicit ? null : Conversations.messages(l, "prompt");
        List<ChatMessage> c = Conversations.messages(l, "chosen");
        List<ChatMessage> r = Conversations.messages(l, "rejected");
        if (implicit) {
            int k = Conversations.sharedMessages(l, c, r);
            p = c.subList(0, k);
            c = c.subList(k, c.size());
            r = r.subList(k, r.size());
        }
        String pt = Conversations.renderPrompt(l, t, p, implicit ? "chosen" : "prompt");
        return new PreferencePair(pt, Conversations.renderResponse(l, t, p, pt, c, "chosen"),
                Conversations.renderResponse(l, t, p, pt, r, "rejected"), l);
    }

    /**
     * One SFT line (text forms) as strings: {@code prompt}/{@code completion} strings or
     * message lists, or {@code messages} split before its final assistant message.
     */
    public static SftExample sft(JsonlLine l, ChatTemplate template) {
        rejectIds(l, SFT_TEXT);
        Conversations.Format f = Conversations.formatOf(l);
        if (f == Conversations.Format.STANDARD && !l.has("messages")) {
            return new SftExample(l.requireText("prompt", SFT_TEXT), l.requireText("completion", SFT_TEXT), l);
        }
        if (l.has("messages")) kindOf(l); // ambiguity check
        ChatTemplate t = Conversations.require(l, template);
        List<ChatMessage> p, c;
        String field;
        if (l.has("messages")) {
            List<ChatMessage> m = Conversations.messages(l, "messages");
            if (m.size() < 2 || !m.get(m.size() - 1).role().equals("assistant")) {
                throw new UserInputException(l.where() + ": \"messages\" must hold a prompt and end with the assistant's"
                        + " reply (the completion); got " + m.size() + " message(s) ending with \""
                        + m.get(m.size() - 1).role() + "\"");
            }
            p = m.subList(0, m.size() - 1);
            c = m.subList(m.size() - 1, m.size());
            field = "messages";
        } else {
            p = Conversations.messages(l, "prompt");
            c = Conversations.messages(l, "completion");
            field = "completion";
        }
        String pt = Conversations.renderPrompt(l, t, p, l.has("messages") ? "messages" : "prompt");
        return new SftExample(pt, Conversations.renderResponse(l, t, p, pt, c, field), l);
    }

    /**
     * One line's prompt (text forms): {@code prompt} as a string or a message list (rendered
     * with the generation prompt), a pair's implicit prompt, or a {@code messages}
     * conversation without its final assistant message.
     */
    public static PromptExample prompt(JsonlLine l, ChatTemplate template) {
        if (!l.has("prompt") && l.has("prompt_ids")) rejectIds(l, PROMPT_TEXT);
        Conversations.Format f = Conversations.formatOf(l);
        if (!l.has("prompt") && !l.has("messages") && (l.has("chosen") || l.has("rejected"))) {
            if (f == Conversations.Format.STANDARD) {
                return new PromptExample(Conversations.splitImplicit(l, l.requireText("chosen", PAIR_TEXT),
                        l.requireText("rejected", PAIR_TEXT))[0], l);
            }
            ChatTemplate t = Conversations.require(l, template);
            List<ChatMessage> c = Conversations.messages(l, "chosen");
            int k = Conversations.sharedMessages(l, c, Conversations.messages(l, "rejected"));
            return new PromptExample(Conversations.renderPrompt(l, t, c.subList(0, k), "chosen"), l);
        }
        if (!l.has("prompt") && l.has("messages")) {
            ChatTemplate t = Conversations.require(l, template);
            List<ChatMessage> m = Conversations.messages(l, "messages");
            if (m.size() > 1 && m.get(m.size() - 1).role().equals("assistant")) m = m.subList(0, m.size() - 1);
            return new PromptExample(Conversations.renderPrompt(l, t, m, "messages"), l);
        }
        if (f == Conversations.Format.STANDARD) return new PromptExample(l.requireText("prompt", PROMPT_TEXT), l);
        ChatTemplate t = Conversations.require(l, template);
        return new PromptExample(Conversations.renderPrompt(l, t, Conversations.messages(l, "prompt"), "prompt"), l);
    }

    /** The tokenizer's chat template, or null (also for no tokenizer: pre-tokenized lines need none). */
    private static ChatTemplate templateOf(Tokenizer tok) {
        return tok == null ? null : tok.chatTemplate().orElse(null);
    }

    /**
     * Preference pairs as token ids: text lines are tokenized with {@code tokenizer}, id
     * lines are checked against its range.
     */
    public static List<TokenizedPair> readTokenizedPairs(Path file, Tokenizer tokenizer) {
        Objects.requireNonNull(tokenizer, "tokenizer");
        return readTokenizedPairs(file, tokenizer, templateOf(tokenizer));
    }

    /**
     * Preference pairs as token ids, conversational lines rendered with {@code template}
     * (null: none available) and then tokenized.
     */
    public static List<TokenizedPair> readTokenizedPairs(Path file, Tokenizer tokenizer, ChatTemplate template) {
        Objects.requireNonNull(tokenizer, "tokenizer");
        List<JsonlLine> lines = readLines(file);
        requireSameForm(lines);
        List<TokenizedPair> out = new ArrayList<>(lines.size());
        for (JsonlLine l : lines) {
            out.add(tokenizePair(l, tokenizer, template));
        }
        return out;
    }

    /**
     * SFT examples as token ids (text tokenized, ids range-checked); conversational lines
     * use the tokenizer's chat template.
     */
    public static List<TokenizedExample> readTokenizedSft(Path file, Tokenizer tokenizer) {
        Objects.requireNonNull(tokenizer, "tokenizer");
        return readTokenizedSft(file, tokenizer, templateOf(tokenizer));
    }

    /** SFT examples as token ids, conversational lines rendered with {@code template}. */
    public static List<TokenizedExample> readTokenizedSft(Path file, Tokenizer tokenizer, ChatTemplate template) {
        Objects.requireNonNull(tokenizer, "tokenizer");
        List<JsonlLine> lines = readLines(file);
        checkOneFormat(lines, false);
        List<TokenizedExample> out = new ArrayList<>(lines.size());
        for (JsonlLine l : lines) {
            out.add(tokenizeSft(l, tokenizer, template));
        }
        return out;
    }

    /**
     * Prompts as token ids (completion empty): each line's {@code "prompt"} or
     * {@code "prompt_ids"}, other fields allowed; conversational prompts use the
     * tokenizer's chat template.
     */
    public static List<TokenizedExample> readTokenizedPrompts(Path file, Tokenizer tokenizer) {
        Objects.requireNonNull(tokenizer, "tokenizer");
        return readTokenizedPrompts(file, tokenizer, templateOf(tokenizer));
    }

    /** Prompts as token ids, conversational ones rendered with {@code template}. */
    public static List<TokenizedExample> readTokenizedPrompts(Path file, Tokenizer tokenizer, ChatTemplate template) {
        Objects.requireNonNull(tokenizer, "tokenizer");
        List<JsonlLine> lines = readLines(file);
        checkOneFormat(lines, false);
        List<TokenizedExample> out = new ArrayList<>(lines.size());
        for (JsonlLine l : lines) {
            out.add(tokenizePrompt(l, tokenizer, template));
        }
        return out;
    }

    /** One pair line (text or ids) as token ids; conversational lines use the tokenizer's chat template. */
    public static TokenizedPair tokenizePair(JsonlLine l, Tokenizer tok) {
        return tokenizePair(l, tok, templateOf(tok));
    }

    /** One pair line (any form) as token ids, conversational lines rendered with {@code template}. */
    public static TokenizedPair tokenizePair(JsonlLine l, Tokenizer tok, ChatTemplate template) {
        if (isIds(l)) {
            return new TokenizedPair(l.requireIds("prompt_ids", PAIR_IDS, tok),
                    l.requireIds("chosen_ids", PAIR_IDS, tok), l.requireIds("rejected_ids", PAIR_IDS, tok), l);
        }
        PreferencePair p = pair(l, template);
        return new TokenizedPair(tok.encode(p.prompt()), tok.encode(p.chosen()), tok.encode(p.rejected()), l);
    }

    /** One SFT line (text or ids) as token ids; conversational lines use the tokenizer's chat template. */
    public static TokenizedExample tokenizeSft(JsonlLine l, Tokenizer tok) {
        return tokenizeSft(l, tok, templateOf(tok));
    }

    /** One SFT line (any form) as token ids, conversational lines rendered with {@code template}. */
    public static TokenizedExample tokenizeSft(JsonlLine l, Tokenizer tok, ChatTemplate template) {
        if (isIds(l)) {
            return new TokenizedExample(l.requireIds("prompt_ids", SFT_IDS, tok),
                    l.requireIds("completion_ids", SFT_IDS, tok), l);
        }
        SftExample e = sft(l, template);
        return new TokenizedExample(tok.encode(e.prompt()), tok.encode(e.completion()), l);
    }

    /** One line's prompt (text or ids) as token ids, with an empty completion. */
    public static TokenizedExample tokenizePrompt(JsonlLine l, Tokenizer tok) {
        return tokenizePrompt(l, tok, templateOf(tok));
    }

    /** One line's prompt (any form) as token ids, conversational ones rendered with {@code template}. */
    public static TokenizedExample tokenizePrompt(JsonlLine l, Tokenizer tok, ChatTemplate template) {
        if (isIds(l)) {
            return new TokenizedExample(l.requireIds("prompt_ids", PROMPT_IDS, tok), new int[0], l);
        }
        return new TokenizedExample(tok.encode(prompt(l, template).prompt()), new int[0], l);
    }

    private static boolean isIds(JsonlLine l) {
        return kindOf(l).isIds();
    }

    private static void rejectIds(JsonlLine l, String expected) {
        for (String f : new String[]{"prompt_ids", "chosen_ids", "rejected_ids", "completion_ids"}) {
            if (l.has(f)) {
                throw new UserInputException(l.where() + ": expected " + expected + " (text), got token ids (\""
                        + f + "\"); read it with a tokenizer");
            }
        }
    }

    private static String firstLine(String s) {
        if (s == null) return "unknown error";
        int i = s.indexOf('\n');
        return i < 0 ? s : s.substring(0, i);
    }

    private static String clip(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 3) + "...";
    }

    // ------------------------------------------------------------------ writing

    /** One value (record, Map, JsonNode, ...) as a single line of JSON, without the newline. */
    public static String toLine(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write as JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** Opens {@code file} for writing, replacing it. */
    public static Writer writer(Path file) {
        return new Writer(file, false);
    }

    /** Opens {@code file} for appending (created when missing), e.g. metrics on resume. */
    public static Writer appender(Path file) {
        return new Writer(file, true);
    }

    /**
     * Writes a whole file atomically (temporary file in the same folder, fsync, rename):
     * one line per value.
     */
    public static void writeAll(Path file, Iterable<?> values) {
        try {
            AtomicFiles.replace(file, ch -> {
                BufferedWriter w = new BufferedWriter(new java.io.OutputStreamWriter(
                        java.nio.channels.Channels.newOutputStream(ch), StandardCharsets.UTF_8));
                for (Object v : values) {
                    w.write(toLine(v));
                    w.write('\n');
                }
                w.flush();
            });
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write: " + e.getMessage(), e);
        }
    }

    /**
     * Writes one JSON object per line (UTF-8, {@code \n}), flushing after each line so a
     * crash loses at most the line being written.
     */
    public static final class Writer implements Closeable, Flushable {
        private final Path file;
        private final BufferedWriter out;

        private Writer(Path file, boolean append) {
            this.file = file;
            try {
                Path parent = file.toAbsolutePath().getParent();
                if (parent != null) Files.createDirectories(parent);
                this.out = append
                        ? Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                        StandardOpenOption.APPEND, StandardOpenOption.WRITE)
                        : Files.newBufferedWriter(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(file + ": cannot open for writing: " + e.getMessage(), e);
            }
        }

        /** Appends {@code value} (record, Map, JsonNode, ...) as one line and flushes. */
        public Writer write(Object value) {
            String line = toLine(value);
            try {
                out.write(line);
                out.write('\n');
                out.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(file + ": cannot write: " + e.getMessage(), e);
            }
            return this;
        }

        @Override
        public void flush() {
            try {
                out.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(file + ": cannot write: " + e.getMessage(), e);
            }
        }

        @Override
        public void close() {
            try {
                out.close();
            } catch (IOException e) {
                throw new UncheckedIOException(file + ": cannot close: " + e.getMessage(), e);
            }
        }
    }
}
