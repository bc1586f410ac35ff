package io.pref4j.text;

import io.pref4j.UserInputException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class Gpt2TokenizerTest {

    private final Tokenizer tok = Tokenizers.byName("gpt2");

    @Test
    void helloWorld() {
        assertArrayEquals(new int[]{15496, 995}, tok.encode("Hello world"));
        assertEquals("Hello world", tok.decode(new int[]{15496, 995}));
    }

    @Test
    void constants() {
        assertSame(Gpt2Tokenizer.get(), tok);
        assertSame(tok, Tokenizers.byName("GPT2"));
        assertEquals(50256, tok.eosId());
        assertEquals(50257, tok.vocabSize());
        assertEquals("gpt2", tok.name());
        assertEquals("<|endoftext|>", tok.decode(new int[]{50256}));
    }

    @Test
    void specialTextIsOrdinary() {
        int[] ids = tok.encode("a<|endoftext|>b");
        for (int id : ids) assertNotEquals(50256, id);
        assertEquals("a<|endoftext|>b", tok.decode(ids));
    }

    @Test
    void roundTripNonAscii() {
        String s = "Grüße, 世界! 🎉";
        assertEquals(s, tok.decode(tok.encode(s)));
    }

    @Test
    void outOfRange() {
        tok.validate(50256);
        UserInputException e = assertThrows(UserInputException.class, () -> tok.validate(50257));
        assertTrue(e.getMessage().contains("50257") && e.getMessage().contains("gpt2"), e.getMessage());
        assertThrows(UserInputException.class, () -> tok.decode(new int[]{-3}));
    }
}
