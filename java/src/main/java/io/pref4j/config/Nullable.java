package io.pref4j.config;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a {@code String} or list component that may be {@code null} (JSON {@code null}),
 * meaning "not set". Boxed {@code Integer}, {@code Long} and {@code Double} components are
 * always nullable; everything else rejects {@code null}.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.RECORD_COMPONENT)
public @interface Nullable {
}
