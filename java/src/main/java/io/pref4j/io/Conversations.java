package io.pref4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import io.pref4j.UserInputException;
import io.pref4j.text.ChatMessage;
import io.pref4j.text.ChatTemplate;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * TRL's dataset forms beyond plain strings: conversational lines (prompt, chosen, rejected,
 * completion as lists of {@code {"role", "content"}} messages, {@code messages} for SFT)
 * rendered with a chat template, and implicit prompts (only chosen/rejected: the prompt is
 * their shared beginning). The rules follow TRL's {@code maybe_extract_prompt} and
 * {@code maybe_apply_chat_template}; see docs/formats.md.
 */
final class Conversations {

    /** The text fields whose form (string or message list) decides a line's format. */
    static final String[] TEXT_FIELDS = {"prompt", "chosen", "rejected", "completion", "messages"};

    private Conversations() {
    }

    /** How a line's text is written. */
    enum Format {
        /** Strings. */
        STANDARD("standard (strings)"),
        /** Lists of {@code {"role", "content"}} messages. */
        CONVERSATIONAL("conversational (lists of {\"role\", \"content\"} messages)"),
        /** Token ids ({@code *_ids}). */
        IDS("token ids");

        final String what;

        Format(String what) {
            this.what = what;
        }
    }

    /**
     * The format of one line's text fields.
     *
     * @throws UserInputException if a text field is neither a string nor a list, or the
     *                            fields mix strings and message lists
     */
    static Format formatOf(JsonlLine l) {
        for (String f : new String[]{"prompt_ids", "chosen_ids", "rejected_ids", "completion_ids"}) {
            if (l.has(f)) return Format.IDS;
        }
        String firstField = null;
        Format first = null;
        for (String f : TEXT_FIELDS) {
            JsonNode v = l.node().get(f);
            if (v == null) continue;
            Format fmt;
            if (v.isTextual()) fmt = Format.STANDARD;
            else if (v.isArray()) fmt = Format.CONVERSATIONAL;
            else throw new UserInputException(l.where() + ": \"" + f + "\" must be a string or a list of"
                        + " {\"role\", \"content\"} messages, got " + JsonlLine.describe(v));
            if (first == null) {
                first = fmt;
                firstField = f;
            } else if (fmt != first) {
                throw new UserInputException(l.where() + ": \"" + firstField + "\" is "
                        + (first == Format.STANDARD ? "a string" : "a list of messages") + " but \"" + f + "\" is "
                        + (fmt == Format.STANDARD ? "a string" : "a list of messages")
                        + "; a line must use one form (all strings, or all lists of {\"role\", \"content\"} messages)");
            }
        }
        return first == null ? Format.STANDARD : first;
    }

    /** Whether a pair line leaves the prompt implicit (chosen/rejected without a prompt). */
    static boolean implicitPrompt(JsonlLine l) {
        return !l.has("prompt") && !l.has("prompt_ids") && (l.has("chosen") || l.has("rejected"));
    }

    /**
     * A message list field, each message checked: an object with a known string
     * {@code role} and a string {@code content}; other keys are kept.
     */
    static List<ChatMessage> messages(JsonlLine l, String field) {
        JsonNode v = l.node().get(field);
        if (v == null) throw l.missing(field, "a list of {\"role\", \"content\"} messages in \"" + field + "\"");
        if (!v.isArray()) {
            throw new UserInputException(l.where() + ": \"" + field + "\" must be a list of {\"role\", \"content\"}"
                    + " messages, got " + JsonlLine.describe(v));
        }
        if (v.isEmpty()) throw new UserInputException(l.where() + ": \"" + field + "\" is an empty list of messages");
        List<ChatMessage> out = new ArrayList<>(v.size());
        for (int i = 0; i < v.size(); i++) {
            JsonNode m = v.get(i);
            String at = "\"" + field + "\"[" + i + "]";
            if (!m.isObject()) {
                throw new UserInputException(l.where() + ": " + at + " must be a {\"role\", \"content\"} object, got "
                        + JsonlLine.describe(m));
            }
            JsonNode role = m.get("role");
            JsonNode content = m.get("content");
            if (role == null) throw new UserInputException(l.where() + ": " + at + " has no \"role\"");
            if (!role.isTextual()) {
                throw new UserInputException(l.where() + ": " + at + ".role must be a string, got " + JsonlLine.describe(role));
            }
            if (!ChatMessage.ROLES.contains(role.textValue())) {
                throw new UserInputException(l.where() + ": " + at + ".role \"" + role.textValue()
                        + "\" is not a known role (expected one of: " + String.join(", ", ChatMessage.ROLES) + ")");
            }
            if (content == null) throw new UserInputException(l.where() + ": " + at + " has no \"content\"");
            if (!content.isTextual()) {
                throw new UserInputException(l.where() + ": " + at + ".content must be a string, got "
                        + JsonlLine.describe(content));
            }
            Map<String, Object> extra = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = m.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getKey().equals("role") && !e.getKey().equals("content")) {
                    extra.put(e.getKey(), Jsonl.MAPPER.convertValue(e.getValue(), Object.class));
                }
            }
            out.add(new ChatMessage(role.textValue(), content.textValue(), extra));
        }
        return out;
    }

    // ------------------------------------------------------------------ implicit prompts

    /**
     * TRL's {@code extract_prompt} for strings: the prompt is chosen's beginning up to the
     * first character where chosen and rejected differ (by code point), a space just before
     * it going to the responses; when one is a prefix of the other, up to one character
     * before the shorter one's end (so neither response is empty).
     *
     * @return {prompt, chosen, rejected}
     */
    static String[] splitImplicit(JsonlLine l, String chosen, String rejected) {
        int[] c = chosen.codePoints().toArray();
        int[] r = rejected.codePoints().toArray();
        int n = Math.min(c.length, r.length);
        int idx = -1;
        for (int i = 0; i < n; i++) {
            idx = i;
            if (c[i] != r[i]) {
                if (i > 0 && c[i - 1] == ' ') idx--;
                break;
            }
        }
        if (idx <= 0) {
            throw new UserInputException(l.where() + ": no \"prompt\", and \"chosen\" and \"rejected\" have no common"
                    + " beginning to take as the prompt (the implicit-prompt form needs the prompt at the start of both)");
        }
        return new String[]{new String(c, 0, idx), new String(c, idx, c.length - idx), new String(r, idx, r.length - idx)};
    }

    /**
     * TRL's {@code extract_prompt} for message lists: the common leading messages (when one
     * list is a prefix of the other, all but the last of the shorter one).
     */
    static int sharedMessages(JsonlLine l, List<ChatMessage> chosen, List<ChatMessage> rejected) {
        int n = Math.min(chosen.size(), rejected.size());
        int idx = -1;
        for (int i = 0; i < n; i++) {
            idx = i;
            if (!chosen.get(i).equals(rejected.get(i))) break;
        }
        if (idx <= 0) {
            throw new UserInputException(l.where() + ": no \"prompt\", and \"chosen\" and \"rejected\" do not begin with"
                    + " the same messages (the implicit-prompt form needs the prompt's messages at the start of both)");
        }
        return idx;
    }

    // ------------------------------------------------------------------ rendering

    /** The template, or one clear error naming the line when there is none. */
    static ChatTemplate require(JsonlLine l, ChatTemplate t) {
        if (t == null) {
            throw new UserInputException(l.where() + ": the line is conversational (lists of {\"role\", \"content\"}"
                    + " messages) but no chat template is available: conversational data needs a model folder whose"
                    + " tokenizer_config.json has a \"chat_template\" (or the standard form: strings)");
        }
        return t;
    }

    /**
     * A prompt's text: the template with the generation prompt after a user (or tool) turn,
     * or continuing the final message when it is the assistant's (TRL's rule).
     */
    static String renderPrompt(JsonlLine l, ChatTemplate t, List<ChatMessage> prompt, String field) {
        String last = prompt.get(prompt.size() - 1).role();
        boolean cont = last.equals("assistant");
        if (!cont && (last.equals("system") || last.equals("developer"))) {
            throw new UserInputException(l.where() + ": the last message of \"" + field + "\" is from \"" + last
                    + "\"; a prompt ends with a user (or tool) message, or an assistant message to continue");
        }
        return render(l, t, prompt, !cont, cont);
    }

    /**
     * The response's text: the template over prompt + response minus the prompt's rendering,
     * which must be its beginning.
     */
    static String renderResponse(JsonlLine l, ChatTemplate t, List<ChatMessage> prompt, String promptText,
                                 List<ChatMessage> response, String field) {
        List<ChatMessage> all = new ArrayList<>(prompt);
        all.addAll(response);
        String full = render(l, t, all, false, false);
        if (!full.startsWith(promptText)) {
            int at = 0;
            while (at < full.length() && at < promptText.length() && full.charAt(at) == promptText.charAt(at)) at++;
            throw new UserInputException(l.where() + ": the chat template's rendering of the prompt followed by \""
                    + field + "\" does not begin with its rendering of the prompt alone (they differ at character "
                    + at + ": " + clip(promptText, at) + " vs " + clip(full, at)
                    + "), so the response cannot be split off; this template is not usable for prompt/response data");
        }
        return full.substring(promptText.length());
    }

    private static String clip(String s, int at) {
        int e = Math.min(s.length(), at + 20);
        return Jsonl.MAPPER.valueToTree(s.substring(at, e) + (e < s.length() ? "..." : "")).toString();
    }

    static String render(JsonlLine l, ChatTemplate t, List<ChatMessage> msgs, boolean gen, boolean cont) {
        try {
            return t.render(msgs, gen, cont, Map.of());
        } catch (UserInputException e) {
            throw new UserInputException(l.where() + ": " + e.getMessage(), e);
        }
    }
}
