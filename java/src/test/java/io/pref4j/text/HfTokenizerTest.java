package io.pref4j.text;

import io.pref4j.UserInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * tokenizer.json folders of the four styles (tools/tokenizers/make_fixtures.py); expected ids
 * worked out by hand from the fixtures' vocabularies: in the byte-level ones id = byte value
 * for 0..255, then he=256, ll=257, Ġw=258, hell=259, hello=260; in the SentencePiece-style
 * ones {@code <unk>}=0, {@code <s>}=1, {@code </s>}=2, {@code <0xNN>}=3+NN, ▁=259, h=260,
 * i=261, ▁h=262, ▁hi=263.
 */
class HfTokenizerTest {

    @TempDir
    Path tmp;

    static Path fixture(String name) {
        try {
            return Path.of(HfTokenizerTest.class.getResource("/tokenizers/" + name + "/tokenizer.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static HfTokenizer load(String name) {
        return HfTokenizer.load(fixture(name));
    }

    @Test
    void byteLevelBpe() {
        HfTokenizer t = load("bytelevel");
        assertEquals(264, t.vocabSize());
        assertArrayEquals(new int[]{260, 258, 111, 114, 108, 100}, t.encode("hello world"));
        assertEquals("hello world", t.decode(new int[]{260, 258, 111, 114, 108, 100}));
        // two bytes of é; a space before a word is Ġ
        assertArrayEquals(new int[]{195, 169}, t.encode("é"));
        assertEquals("Grüße, 世界! 🎉", t.decode(t.encode("Grüße, 世界! 🎉")));
        // added tokens are matched before BPE; decode drops them unless asked
        int[] ids = t.encode("<|im_start|>user\nhi<|im_end|>");
        assertArrayEquals(new int[]{262, 117, 115, 101, 114, 10, 104, 105, 263}, ids);
        assertEquals("user\nhi", t.decode(ids));
        assertEquals("<|im_start|>user\nhi<|im_end|>", t.decode(ids, false));
        // nothing is added and nothing truncated (tokenizer_config says model_max_length 32)
        assertEquals(100, t.encode("a".repeat(100)).length);
    }

    @Test
    void specialTokensAndEosIds() {
        HfTokenizer t = load("bytelevel");
        assertEquals(263, t.eosId());
        assertEquals(Set.of(263, 261), t.eosIds());
        assertTrue(t.isEos(261) && t.isEos(263) && !t.isEos(262));
        assertEquals(Set.of(261, 262, 263), t.specialIds());
        assertTrue(t.bosId().isEmpty());
        assertEquals(261, t.padId().getAsInt());
        assertEquals(262, t.addedTokenId("<|im_start|>").getAsInt());
        assertEquals("hf", t.name());
        ChatTemplate ct = t.chatTemplate().orElseThrow();
        String p = ct.render(List.of(new ChatMessage("user", "hi")), true);
        assertEquals("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", p);
        assertArrayEquals(new int[]{262, 117, 115, 101, 114, 10, 104, 105, 263, 10, 262, 97, 115, 115, 105, 115, 116,
                97, 110, 116, 10}, t.encode(p));
    }

    @Test
    void llama3SplitThenByteLevelAddsNoBos() {
        HfTokenizer t = load("llama3");
        assertArrayEquals(new int[]{260, 258, 111, 114, 108, 100}, t.encode("hello world"));
        assertArrayEquals(new int[]{49, 50, 51, 52, 53, 54}, t.encode("123456"));
        assertEquals(261, t.bosId().getAsInt());
        assertEquals(263, t.eosId());
        assertEquals(Set.of(263, 262), t.eosIds());
        String p = t.chatTemplate().orElseThrow().render(List.of(new ChatMessage("user", " hi ")), false);
        assertEquals("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>", p);
        assertArrayEquals(new int[]{261, 264, 117, 115, 101, 114, 265, 10, 10, 104, 105, 263}, t.encode(p));
    }

    @Test
    void byteFallbackWithPrependReplaceNormalizer() {
        HfTokenizer t = load("bytefallback");
        assertEquals(267, t.vocabSize());
        assertArrayEquals(new int[]{263, 263}, t.encode("hi hi"));
        // é is not in the vocabulary: its two bytes <0xC3> <0xA9>; no <s> added by encode
        assertArrayEquals(new int[]{263, 3 + 0xC3, 3 + 0xA9}, t.encode("hié"));
        assertEquals("hié", t.decode(new int[]{263, 3 + 0xC3, 3 + 0xA9}));
        assertEquals("hi hi", t.decode(t.encode("hi hi")));
        assertEquals(1, t.bosId().getAsInt());
        assertEquals(2, t.eosId());
        assertEquals(Set.of(2), t.eosIds());
        assertEquals(Set.of(0, 1, 2), t.specialIds());
        assertEquals("<s>[INST] hi [/INST]ok</s>", t.chatTemplate().orElseThrow()
                .render(List.of(new ChatMessage("user", "hi"), new ChatMessage("assistant", "ok")), false));
        assertEquals(1, t.encode("<s>hi")[0]);
    }

    @Test
    void metaspacePreTokenizer() {
        HfTokenizer t = load("metaspace");
        assertArrayEquals(new int[]{263, 263}, t.encode("hi hi"));
        assertArrayEquals(new int[]{263, 3 + 0xC3, 3 + 0xA9}, t.encode("hié"));
        assertEquals("hi hi", t.decode(new int[]{263, 263}));
        assertTrue(t.chatTemplate().isEmpty());
    }

    @Test
    void staysOffline() {
        load("bytelevel");
        assertTrue(ai.djl.util.Utils.isOfflineMode(), "DJL must run in offline mode");
        assertEquals("true", System.getProperty("OPT_OUT_TRACKING"));
    }

    @Test
    void idsOutOfRange() {
        HfTokenizer t = load("bytelevel");
        UserInputException e = assertThrows(UserInputException.class, () -> t.decode(new int[]{1, -3}));
        assertTrue(e.getMessage().contains("-3") && e.getMessage().contains("'hf'"), e.getMessage());
        // ids past the tokenizer's tokens (a model's spare embedding rows) decode to nothing, as in HF's tokenizers
        assertEquals(t.decode(new int[]{1}), t.decode(new int[]{1, 264, 300}));
        // ... but are not valid input ids
        e = assertThrows(UserInputException.class, () -> t.validate(new int[]{1, 264}, "x.jsonl:3"));
        assertTrue(e.getMessage().contains("264") && e.getMessage().contains("x.jsonl:3"), e.getMessage());
    }

    // ------------------------------------------------------------------ bad folders

    Path copy(String name) throws IOException {
        Path d = Files.createDirectories(tmp.resolve(name + "-" + System.nanoTime()));
        for (String f : new String[]{"tokenizer.json", "tokenizer_config.json", "generation_config.json"}) {
            Path src = fixture(name).resolve(f);
            if (Files.exists(src)) Files.copy(src, d.resolve(f));
        }
        return d;
    }

    static void fails(Path dir, String... fragments) {
        UserInputException e = assertThrows(UserInputException.class, () -> HfTokenizer.load(dir));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "expected '" + f + "' in: " + e.getMessage());
    }

    @Test
    void badFolders() throws IOException {
        fails(tmp, tmp.resolve("tokenizer.json") + ": no such file");

        Path d = copy("bytelevel");
        Files.writeString(d.resolve("tokenizer.json"), "{\"model\": {\"vocab\": {\"a\": 0}},}");
        fails(d, d.resolve("tokenizer.json") + ": malformed JSON at line 1");

        d = copy("bytelevel");
        Files.writeString(d.resolve("tokenizer.json"), "{\"model\": {\"type\": \"NoSuchModel\", \"vocab\": {\"a\": 0}}}");
        fails(d, d.resolve("tokenizer.json") + ": not a tokenizer.json that Hugging Face tokenizers accepts");

        d = copy("bytelevel");
        Files.writeString(d.resolve("generation_config.json"), "{\"eos_token_id\": \"x\"}");
        fails(d, d.resolve("generation_config.json") + ": eos_token_id must be an integer id or a list");

        d = copy("bytelevel");
        Files.writeString(d.resolve("generation_config.json"), "{\"eos_token_id\": [263, 999]}");
        fails(d, "eos_token_id[1] 999 is outside tokenizer.json's vocabulary (0..263)");

        d = copy("bytelevel");
        Files.writeString(d.resolve("tokenizer_config.json"), "{\"eos_token\": \"<|nope|>\"}");
        fails(d, d.resolve("tokenizer_config.json") + ": eos_token \"<|nope|>\" is not a token of tokenizer.json");

        d = copy("bytelevel");
        Files.writeString(d.resolve("tokenizer_config.json"), "{\"eos_token\": 5}");
        fails(d, "\"eos_token\" must be a string or an object with \"content\"");

        d = copy("bytelevel");
        Files.delete(d.resolve("tokenizer_config.json"));
        Files.delete(d.resolve("generation_config.json"));
        fails(d, "no end-of-sequence token");

        // eos from generation_config.json alone (an int)
        Files.writeString(d.resolve("generation_config.json"), "{\"eos_token_id\": 261}");
        HfTokenizer t = HfTokenizer.load(d);
        assertEquals(261, t.eosId());
        assertEquals(Set.of(261), t.eosIds());
    }

    // ------------------------------------------------------------------ Tokenizers.forModelFolder

    @Test
    void forModelFolder() throws IOException {
        Path d = copy("bytelevel");
        Tokenizer auto = Tokenizers.forModelFolder(d, 272, "auto");
        assertInstanceOf(HfTokenizer.class, auto);
        assertInstanceOf(HfTokenizer.class, Tokenizers.forModelFolder(d, 264, "hf"));
        assertSame(ByteTokenizer.INSTANCE, Tokenizers.forModelFolder(d, 300, "byte"));
        UserInputException e = assertThrows(UserInputException.class, () -> Tokenizers.forModelFolder(d, 200, null));
        assertTrue(e.getMessage().contains("vocab_size 200 is smaller than the hf tokenizer's 264 ids"), e.getMessage());
        e = assertThrows(UserInputException.class, () -> Tokenizers.forModelFolder(d, 264, "sentencepiece"));
        assertTrue(e.getMessage().contains("expected one of: auto, hf, byte, gpt2"), e.getMessage());

        // no tokenizer.json: today's rules
        Path bare = Files.createDirectories(tmp.resolve("bare"));
        assertSame(ByteTokenizer.INSTANCE, Tokenizers.forModelFolder(bare, 258, "auto"));
        assertSame(Gpt2Tokenizer.get(), Tokenizers.forModelFolder(bare, 50257, "auto"));
        Files.writeString(bare.resolve("config.json"), "{\"vocab_size\": 300, \"pref4j_tokenizer\": \"byte\"}");
        assertSame(ByteTokenizer.INSTANCE, Tokenizers.forModelFolder(bare, 300, "auto"));
        Files.writeString(bare.resolve("config.json"), "{\"vocab_size\": 300}");
        e = assertThrows(UserInputException.class, () -> Tokenizers.forModelFolder(bare, 300, "auto"));
        assertTrue(e.getMessage().contains("cannot tell the tokenizer"), e.getMessage());
        e = assertThrows(UserInputException.class, () -> Tokenizers.forModelFolder(bare, 300, "hf"));
        assertTrue(e.getMessage().contains("tokenizer.json: no such file"), e.getMessage());
        Files.writeString(bare.resolve("config.json"), "{\"pref4j_tokenizer\": \"hf\"}");
        e = assertThrows(UserInputException.class, () -> Tokenizers.forModelFolder(bare, 300, "auto"));
        assertTrue(e.getMessage().contains("pref4j_tokenizer is \"hf\" but the folder has no tokenizer.json"), e.getMessage());
        assertThrows(UserInputException.class, () -> Tokenizers.byName("hf"));
    }

    @Test
    void defaultsOfTheOtherTokenizers() {
        assertEquals(Set.of(256), ByteTokenizer.INSTANCE.eosIds());
        assertEquals(Set.of(256, 257), ByteTokenizer.INSTANCE.specialIds());
        assertEquals(Set.of(50256), Gpt2Tokenizer.get().eosIds());
        assertTrue(Gpt2Tokenizer.get().chatTemplate().isEmpty());
        assertEquals(Map.of(), Map.of());
    }
}
