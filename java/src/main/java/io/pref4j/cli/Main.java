package io.pref4j.cli;

public final class Main {
    public static void main(String[] args) {
        System.out.println("pref4j");
    }
}
