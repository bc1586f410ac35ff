package io.pref4j.train;

import io.pref4j.UserInputException;
import io.pref4j.io.Jsonl;
import io.pref4j.io.JsonlLine;
import io.pref4j.io.PreferencePair;
import io.pref4j.text.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the loop's data: prompt pools and preference pairs, in token-id form or in any of
 * TRL's text forms (standard strings, conversational message lists rendered with the
 * tokenizer's chat template, implicit prompt: see docs/formats.md). Custom field names
 * (data.prompt_field, ...) take the standard string and id forms only.
 */
public final class TrainingData {
    private TrainingData() {}

    /**
     * Prompts of more than max tokens keep their last max (TRL's max_prompt_length, which
     * truncates on the left); max 0 = no limit. The text becomes the kept tokens' decoding.
     */
    public static List<Engine.Prompt> truncatePrompts(List<Engine.Prompt> prompts, int max, Tokenizer tok) {
        if (max <= 0) return prompts;
        return prompts.stream().map(p -> truncate(p, max, tok)).toList();
    }

    /** {@link #truncatePrompts} for the data's prompts. */
    public static List<Engine.OfflinePair> truncatePairs(List<Engine.OfflinePair> data, int max, Tokenizer tok) {
        if (max <= 0) return data;
        return data.stream().map(d -> new Engine.OfflinePair(truncate(d.prompt(), max, tok), d.chosen(), d.chosenIds(),
                d.rejected(), d.rejectedIds(), d.label())).toList();
    }

    private static Engine.Prompt truncate(Engine.Prompt p, int max, Tokenizer tok) {
        if (p.ids().length <= max) return p;
        int[] ids = java.util.Arrays.copyOfRange(p.ids(), p.ids().length - max, p.ids().length);
        return new Engine.Prompt(tok.decode(ids), ids);
    }

    /** The prompt pool: each line's prompt field (or prompt_ids). */
    public static List<Engine.Prompt> prompts(Path file, Tokenizer tok, String field) {
        if (!Files.isRegularFile(file)) throw new UserInputException(file + ": no such file (data.prompts)");
        List<Engine.Prompt> out = new ArrayList<>();
        for (JsonlLine l : Jsonl.readLines(file)) out.add(prompt(l, tok, field));
        if (out.isEmpty()) throw new UserInputException(file + ": no prompts");
        return out;
    }

    private static Engine.Prompt prompt(JsonlLine l, Tokenizer tok, String field) {
        if (l.has(field + "_ids")) {
            int[] ids = l.requireIds(field + "_ids", "\"" + field + "_ids\": an array of token ids", tok);
            return new Engine.Prompt(tok.decode(ids), ids);
        }
        if (field.equals("prompt")) {   // TRL's forms: string, messages, implicit prompt
            String text = Jsonl.prompt(l, tok.chatTemplate().orElse(null)).prompt();
            return new Engine.Prompt(text, tok.encode(text));
        }
        String text = l.requireText(field, "\"" + field + "\": a string");
        return new Engine.Prompt(text, tok.encode(text));
    }

    /**
     * One line of TRL's unpaired (KTO) form: {@code {"prompt", "completion", "label": true|false}}
     * with text (or {@code prompt_ids}, {@code completion_ids}); conversational prompts and
     * completions go through the chat template as the pair forms do.
     */
    private static Engine.OfflinePair unpaired(JsonlLine l, Tokenizer tok, String pf) {
        String expected = "an unpaired line {\"prompt\", \"completion\", \"label\": true|false}";
        var label = l.node().get("label");
        if (!label.isBoolean()) throw new UserInputException(l.where() + ": \"label\" must be true or false in " + expected);
        Engine.Prompt p = prompt(l, tok, pf);
        int[] c;
        String ct;
        if (l.has("completion_ids")) {
            c = l.requireIds("completion_ids", "\"completion_ids\": an array of token ids", tok);
            ct = tok.decode(c);
        } else if (l.has("completion") && l.node().get("completion").isTextual()) {
            ct = l.requireText("completion", expected);
            c = tok.encode(ct);
        } else {
            var sft = Jsonl.sft(l, tok.chatTemplate().orElse(null));
            ct = sft.completion();
            c = tok.encode(ct);
        }
        return Engine.OfflinePair.unpaired(p, ct, c, label.asBoolean());
    }

    /**
     * Preference pairs with the configured field names (text, or *_ids arrays); lines with a
     * "label" are KTO's unpaired completions ({@link Engine.OfflinePair#isUnpaired()}).
     */
    public static List<Engine.OfflinePair> pairs(Path file, Tokenizer tok, String pf, String cf, String rf) {
        if (!Files.isRegularFile(file)) throw new UserInputException(file + ": no such file (data.preferences)");
        List<Engine.OfflinePair> out = new ArrayList<>();
        boolean trlNames = pf.equals("prompt") && cf.equals("chosen") && rf.equals("rejected");
        for (JsonlLine l : Jsonl.readLines(file)) {
            if (l.has("label")) {   // KTO's unpaired form
                out.add(unpaired(l, tok, pf));
                continue;
            }
            Engine.Prompt p;
            int[] c, r;
            String ct, rt;
            if (l.has(cf + "_ids")) {
                p = prompt(l, tok, pf);
                c = l.requireIds(cf + "_ids", "\"" + cf + "_ids\": an array of token ids", tok);
                r = l.requireIds(rf + "_ids", "\"" + rf + "_ids\": an array of token ids", tok);
                ct = tok.decode(c);
                rt = tok.decode(r);
            } else if (trlNames) {   // TRL's forms: standard, conversational, implicit prompt
                PreferencePair pp = Jsonl.pair(l, tok.chatTemplate().orElse(null));
                p = new Engine.Prompt(pp.prompt(), tok.encode(pp.prompt()));
                ct = pp.chosen();
                rt = pp.rejected();
                c = tok.encode(ct);
                r = tok.encode(rt);
            } else {
                p = prompt(l, tok, pf);
                ct = l.requireText(cf, "\"" + cf + "\" and \"" + rf + "\" strings beside \"" + pf + "\"");
                rt = l.requireText(rf, "\"" + cf + "\" and \"" + rf + "\" strings beside \"" + pf + "\"");
                c = tok.encode(ct);
                r = tok.encode(rt);
            }
            out.add(new Engine.OfflinePair(p, ct, c, rt, r));
        }
        if (out.isEmpty()) throw new UserInputException(file + ": no preference pairs");
        return out;
    }
}
