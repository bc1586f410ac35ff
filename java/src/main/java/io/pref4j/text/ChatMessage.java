package io.pref4j.text;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One message of a conversation, {@code {"role": ..., "content": ...}}, as chat templates and
 * TRL's conversational datasets have them. Other keys of the message (a tool call, a
 * {@code reasoning_content}, a {@code name}) are kept in {@code extra} and passed to the
 * template too.
 *
 * @param role    {@code system}, {@code user}, {@code assistant}, ... (see {@link #ROLES})
 * @param content the text
 * @param extra   the message's other keys as plain Java values (String, Number, Boolean,
 *                List, Map, null); never null, unmodifiable
 */
public record ChatMessage(String role, String content, Map<String, Object> extra) {

    /** The roles a message may have: those of OpenAI-style chats, Llama 3's and Qwen's tool roles. */
    public static final List<String> ROLES = List.of("system", "developer", "user", "assistant", "tool", "ipython",
            "function");

    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
        extra = extra == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(extra));
    }

    /** A message with no other keys. */
    public ChatMessage(String role, String content) {
        this(role, content, Map.of());
    }

    /** The message as the template sees it: role, content, then the other keys. */
    public Map<String, Object> asMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        m.putAll(extra);
        return m;
    }
}
