package io.pref4j.text;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;

/**
 * GPT-2 byte-pair encoding ({@code r50k_base}, through jtokkit): 50,257 ids, end of text
 * {@value #EOS}. The text {@code "<|endoftext|>"} inside an input is encoded as ordinary
 * text, never as the special token; append {@link #eosId()} explicitly.
 */
public final class Gpt2Tokenizer implements Tokenizer {

    /** End-of-text id. */
    public static final int EOS = 50256;
    /** Vocabulary size. */
    public static final int VOCAB_SIZE = 50257;

    private static final class Holder {
        static final Gpt2Tokenizer INSTANCE = new Gpt2Tokenizer();
    }

    private final Encoding encoding;

    private Gpt2Tokenizer() {
        this.encoding = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
    }

    /** The shared instance (the BPE tables load on first use). */
    public static Gpt2Tokenizer get() {
        return Holder.INSTANCE;
    }

    @Override
    public int[] encode(String text) {
        return encoding.encodeOrdinary(text).toArray();
    }

    @Override
    public String decode(int[] ids) {
        IntArrayList list = new IntArrayList(ids.length);
        for (int id : ids) {
            validate(id);
            list.add(id);
        }
        return encoding.decode(list);
    }

    @Override
    public int vocabSize() {
        return VOCAB_SIZE;
    }

    @Override
    public int eosId() {
        return EOS;
    }

    @Override
    public String name() {
        return "gpt2";
    }

    @Override
    public String toString() {
        return "Gpt2Tokenizer(r50k_base)";
    }
}
