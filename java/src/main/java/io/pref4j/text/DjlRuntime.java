package io.pref4j.text;

import io.pref4j.UserInputException;

import java.util.Locale;

/**
 * Keeps DJL (the JNI binding of Hugging Face's Rust tokenizers) offline. Left to itself DJL
 * may, on first use, ask the EC2 metadata address and send a telemetry request
 * ({@code Ec2Utils.callHome}), and on a machine with CUDA look for a CUDA build of its
 * native library and download it. Its offline mode ({@code ai.djl.offline=true}) turns all
 * of that off: the CPU library inside the jar is extracted to DJL's cache folder
 * ({@code ~/.djl.ai}, or {@code DJL_CACHE_DIR}) and loaded from there. This class sets that
 * property (and {@code OPT_OUT_TRACKING}) before any DJL class runs, and refuses to go on
 * when the environment overrides them, since DJL reads environment variables first.
 */
final class DjlRuntime {

    private static boolean done;

    private DjlRuntime() {
    }

    /**
     * Makes DJL offline; call before touching any DJL class.
     *
     * @throws UserInputException if {@code DJL_OFFLINE}, {@code OPT_OUT_TRACKING} or
     *                            {@code RUST_FLAVOR} in the environment would let DJL download
     */
    static synchronized void offline() {
        if (done) return;
        refuse("DJL_OFFLINE", "true");
        refuse("OPT_OUT_TRACKING", "true");
        refuse("RUST_FLAVOR", "cpu");
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("OPT_OUT_TRACKING", "true");
        done = true;
    }

    private static void refuse(String env, String allowed) {
        String v = System.getenv(env);
        if (v != null && !v.trim().toLowerCase(Locale.ROOT).equals(allowed)) {
            throw new UserInputException("the environment sets " + env + "=" + v + ", which lets DJL's tokenizer"
                    + " library download files; pref4j runs offline: unset it (or set it to " + allowed + ")");
        }
    }
}
