package io.pref4j.text;

import io.pref4j.UserInputException;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

class ByteTokenizerTest {

    private final Tokenizer tok = Tokenizers.byName("byte");

    @Test
    void basics() {
        assertSame(ByteTokenizer.INSTANCE, tok);
        assertEquals(258, tok.vocabSize());
        assertEquals(256, tok.eosId());
        assertEquals(257, ByteTokenizer.INSTANCE.padId());
        assertEquals("byte", tok.name());
        assertArrayEquals(new int[]{72, 105}, tok.encode("Hi"));
        assertArrayEquals(new int[0], tok.encode(""));
    }

    @Test
    void roundTripNonAscii() {
        String s = "héllo wörld — 日本語 🎉\n\ttab";
        int[] ids = tok.encode(s);
        assertEquals(s.getBytes(StandardCharsets.UTF_8).length, ids.length);
        for (int id : ids) assertTrue(id >= 0 && id < 256);
        assertArrayEquals(new int[]{0xC3, 0xA9}, tok.encode("é"));
        assertEquals(s, tok.decode(ids));
    }

    @Test
    void decodeDropsSpecialsAndReplacesInvalidUtf8() {
        assertEquals("ab", tok.decode(new int[]{97, ByteTokenizer.EOS, 98, ByteTokenizer.PAD}));
        assertEquals("\uFFFD", tok.decode(new int[]{0xC3}));               // truncated sequence
        assertEquals("a\uFFFDb", tok.decode(new int[]{97, 0xFF, 98}));    // invalid byte
    }

    @Test
    void outOfRangeIds() {
        tok.validate(257);
        UserInputException e = assertThrows(UserInputException.class, () -> tok.validate(258));
        assertTrue(e.getMessage().contains("258") && e.getMessage().contains("0..257"), e.getMessage());
        assertThrows(UserInputException.class, () -> tok.validate(-1));
        assertThrows(UserInputException.class, () -> tok.decode(new int[]{1, 300}));
        e = assertThrows(UserInputException.class, () -> tok.validate(new int[]{1, 2, 999}, "x.jsonl:3"));
        assertTrue(e.getMessage().startsWith("x.jsonl:3: ") && e.getMessage().contains("999"), e.getMessage());
    }

    @Test
    void unknownTokenizerName() {
        UserInputException e = assertThrows(UserInputException.class, () -> Tokenizers.byName("bpe32k"));
        assertTrue(e.getMessage().contains("bpe32k") && e.getMessage().contains("byte, gpt2"), e.getMessage());
        assertThrows(UserInputException.class, () -> Tokenizers.byName(null));
    }
}
