package io.pref4j.io;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.text.Tokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * One JSON object read from a JSONL file, with where it came from. The node holds every
 * field of the line, so outputs can echo the input's fields; treat it as read-only.
 * The {@code require*} methods read a field and turn anything unexpected into a
 * {@link UserInputException} of the form {@code file:line: what was expected}.
 *
 * @param file the file
 * @param line 1-based line number
 * @param node the parsed object
 */
public record JsonlLine(Path file, int line, ObjectNode node) {

    private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() { };

    /** {@code file:line}, the prefix of every message about this line. */
    public String where() {
        return file + ":" + line;
    }

    /** Whether the object has the field (a JSON {@code null} counts as present). */
    public boolean has(String field) {
        return node.has(field);
    }

    /** The fields as plain Java values (String, Integer/Long/Double, Boolean, List, Map, null). */
    public Map<String, Object> fields() {
        return Jsonl.MAPPER.convertValue(node, MAP);
    }

    /** The object's field names, in order. */
    public List<String> keys() {
        List<String> ks = new ArrayList<>();
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) ks.add(it.next());
        return ks;
    }

    /**
     * The string field {@code field}.
     *
     * @param expected what a whole line should look like, for the message when the field is
     *                 missing (e.g. {@code "a JSON object with \"prompt\" and \"completion\""})
     */
    public String requireText(String field, String expected) {
        JsonNode v = node.get(field);
        if (v == null) {
            throw missing(field, expected);
        }
        if (!v.isTextual()) {
            throw new UserInputException(where() + ": \"" + field + "\" must be a string, got "
                    + describe(v));
        }
        return v.textValue();
    }

    /**
     * The token-id array {@code field}, each id checked against the tokenizer's range
     * ({@code tokenizer} may be null to check only that they are integers).
     */
    public int[] requireIds(String field, String expected, Tokenizer tokenizer) {
        JsonNode v = node.get(field);
        if (v == null) {
            throw missing(field, expected);
        }
        if (!v.isArray()) {
            throw new UserInputException(where() + ": \"" + field
                    + "\" must be an array of integer token ids, got " + describe(v));
        }
        int[] ids = new int[v.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode e = v.get(i);
            if (!e.isIntegralNumber() || !e.canConvertToInt()) {
                throw new UserInputException(where() + ": \"" + field
                        + "\" must be an array of integer token ids, element " + i + " is " + describe(e));
            }
            ids[i] = e.intValue();
            if (tokenizer != null && !tokenizer.isValid(ids[i])) {
                throw new UserInputException(where() + ": \"" + field + "\" element " + i + ": "
                        + tokenizer.outOfRange(ids[i]));
            }
        }
        return ids;
    }

    UserInputException missing(String field, String expected) {
        return new UserInputException(where() + ": expected " + expected + "; \"" + field
                + "\" is missing (got keys " + keysText() + ")");
    }

    String keysText() {
        List<String> ks = keys();
        if (ks.isEmpty()) return "none";
        StringBuilder sb = new StringBuilder();
        for (String k : ks) {
            if (!sb.isEmpty()) sb.append(", ");
            sb.append('"').append(k).append('"');
        }
        return sb.toString();
    }

    /** A short description of a JSON value for messages: its type and a clipped rendering. */
    static String describe(JsonNode v) {
        String type = switch (v.getNodeType()) {
            case STRING -> "string";
            case NUMBER -> "number";
            case BOOLEAN -> "boolean";
            case NULL -> "null";
            case ARRAY -> "array";
            case OBJECT -> "object";
            default -> v.getNodeType().toString().toLowerCase();
        };
        if (v.isNull()) return "null";
        String s = v.toString();
        if (s.length() > 40) s = s.substring(0, 37) + "...";
        return type + " " + s;
    }
}
