package io.pref4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.TreeMap;

/**
 * The rollout store: each online prompt's current responses (with their rewards,
 * reference log-probs and the sampling policy's per-token data) and the pairs built from
 * them, kept across iterations for OPTune's partial regeneration, and its JSON form in a
 * checkpoint's state, so that a resumed run sees the same stored responses.
 */
public final class RolloutStore {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final TreeMap<Integer, Engine.Stored> map = new TreeMap<>();

    /** The stored responses of prompt i, or null. */
    public Engine.Stored get(int prompt) {
        return map.get(prompt);
    }

    public void put(Engine.Stored s) {
        map.put(s.prompt(), s);
    }

    public Collection<Engine.Stored> values() {
        return map.values();
    }

    public int size() {
        return map.size();
    }

    /** The store as a checkpoint's JSON array (every response with what was computed for it). */
    public ArrayNode toJson() {
        ArrayNode arr = JSON.createArrayNode();
        for (Engine.Stored st : map.values()) {
            ObjectNode o = arr.addObject();
            o.put("prompt", st.prompt());
            ArrayNode rs = o.putArray("responses");
            for (Engine.Response r : st.responses()) {
                ObjectNode ro = rs.addObject();
                ArrayNode ids = ro.putArray("ids");
                for (int id : r.ids) ids.add(id);
                ro.put("eos", r.eos);
                ro.put("reward", r.reward);
                ro.put("ref", r.refLogp);
                putFloats(ro, "old", r.oldTok);
                putFloats(ro, "ref_tok", r.refTok);
                putFloats(ro, "old_values", r.oldValues);
            }
            ArrayNode pairs = o.putArray("pairs");
            for (Pairs.Pair pr : st.pairs()) pairs.addArray().add(pr.chosen()).add(pr.rejected());
        }
        return arr;
    }

    private static void putFloats(ObjectNode o, String key, float[] x) {
        if (x == null) return;
        ArrayNode a = o.putArray(key);
        for (float f : x) a.add(f);
    }

    private static float[] floats(JsonNode n) {
        if (n == null || n.isNull()) return null;
        float[] out = new float[n.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) n.get(i).asDouble();
        return out;
    }

    /** Replaces the store's contents with {@link #toJson}'s (null: empties it). */
    public void restore(JsonNode arr) {
        map.clear();
        if (arr == null) return;
        for (JsonNode o : arr) {
            JsonNode rs = o.get("responses");
            Engine.Response[] responses = new Engine.Response[rs.size()];
            for (int i = 0; i < responses.length; i++) {
                JsonNode ro = rs.get(i);
                int[] ids = new int[ro.get("ids").size()];
                for (int j = 0; j < ids.length; j++) ids[j] = ro.get("ids").get(j).asInt();
                Engine.Response r = new Engine.Response(ids, ro.get("eos").asBoolean());
                r.reward = ro.get("reward").asDouble();
                r.refLogp = ro.get("ref").asDouble();
                r.oldTok = floats(ro.get("old"));
                r.refTok = floats(ro.get("ref_tok"));
                r.oldValues = floats(ro.get("old_values"));
                responses[i] = r;
            }
            List<Pairs.Pair> pairs = new ArrayList<>();
            for (JsonNode pr : o.get("pairs")) pairs.add(new Pairs.Pair(pr.get(0).asInt(), pr.get(1).asInt()));
            int prompt = o.get("prompt").asInt();
            map.put(prompt, new Engine.Stored(prompt, responses, pairs));
        }
    }
}
