package io.qingtian.card.daemon;

/** {@code card.json}: which card this state directory belongs to, and its format. */
public record CardIdentity(int format, String cardId, String created) {
    public static final int FORMAT = 1;
}
