package io.pref4j.bench;
final class Placeholder {}
