package example.pph;

/* Standard Webhooks verification: `v1` (HMAC-SHA256 with the subscription's whsec_ secret) and
 * `v1a` (Ed25519 with the hub's whpk_ public keys), over "{webhook-id}.{webhook-timestamp}.{body}",
 * and a timestamp no further than the tolerance from now. */

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

final class Verifier {
    /** The request was not signed by the hub (or not recently): answer 401, handle nothing. */
    static final class Rejected extends RuntimeException {
        Rejected(String reason) {
            super(reason);
        }
    }

    /** X.509 SubjectPublicKeyInfo header of an Ed25519 key; the raw 32 bytes follow it. */
    private static final byte[] ED25519_SPKI_PREFIX = HexFormat.of().parseHex("302a300506032b6570032100");

    private final byte[] secret;
    private final List<PublicKey> publicKeys = new ArrayList<>();
    private final long toleranceSeconds;

    Verifier(String secret, List<String> publicKeys, long toleranceSeconds) throws GeneralSecurityException {
        if (secret == null && publicKeys.isEmpty()) {
            throw new IllegalArgumentException(
                    "set PPH_WEBHOOK_SECRET (whsec_...) or PPH_WEBHOOK_PUBLIC_KEYS (whpk_...)");
        }
        this.secret = secret == null ? null : Base64.getDecoder().decode(strip(secret, "whsec_"));
        KeyFactory ed25519 = KeyFactory.getInstance("Ed25519");
        for (String key : publicKeys) {
            byte[] raw = Base64.getDecoder().decode(strip(key, "whpk_"));
            byte[] encoded = new byte[ED25519_SPKI_PREFIX.length + raw.length];
            System.arraycopy(ED25519_SPKI_PREFIX, 0, encoded, 0, ED25519_SPKI_PREFIX.length);
            System.arraycopy(raw, 0, encoded, ED25519_SPKI_PREFIX.length, raw.length);
            this.publicKeys.add(ed25519.generatePublic(new X509EncodedKeySpec(encoded)));
        }
        this.toleranceSeconds = toleranceSeconds;
    }

    private static String strip(String value, String prefix) {
        return value.startsWith(prefix) ? value.substring(prefix.length()) : value;
    }

    /** The request's webhook-id if one of its signatures is valid; Rejected if not. */
    String verify(Map<String, String> headers, byte[] body, long now) {
        String messageId = headers.get("webhook-id");
        String timestamp = headers.get("webhook-timestamp");
        String signatures = headers.get("webhook-signature");
        if (messageId == null || timestamp == null || signatures == null) {
            throw new Rejected("missing webhook-id, webhook-timestamp or webhook-signature");
        }
        long sentAt;
        try {
            sentAt = Long.parseLong(timestamp);
        } catch (NumberFormatException notANumber) {
            throw new Rejected("webhook-timestamp is not a number of seconds");
        }
        if (Math.abs(now - sentAt) > toleranceSeconds) {
            throw new Rejected("webhook-timestamp is more than " + toleranceSeconds + "s from now");
        }
        byte[] prefix = (messageId + "." + timestamp + ".").getBytes(StandardCharsets.UTF_8);
        byte[] signed = new byte[prefix.length + body.length];
        System.arraycopy(prefix, 0, signed, 0, prefix.length);
        System.arraycopy(body, 0, signed, prefix.length, body.length);
        for (String signature : signatures.trim().split("\\s+")) {
            int comma = signature.indexOf(',');
            if (comma < 0) {
                continue;
            }
            String version = signature.substring(0, comma);
            byte[] value;
            try {
                value = Base64.getDecoder().decode(signature.substring(comma + 1));
            } catch (IllegalArgumentException notBase64) {
                continue;
            }
            if (version.equals("v1") && secret != null && MessageDigest.isEqual(value, hmac(signed))) {
                return messageId;
            }
            if (version.equals("v1a")) {
                for (PublicKey key : publicKeys) {
                    if (ed25519Verifies(key, signed, value)) {
                        return messageId;
                    }
                }
            }
        }
        throw new Rejected("no valid signature");
    }

    private byte[] hmac(byte[] signed) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            return mac.doFinal(signed);
        } catch (GeneralSecurityException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    private static boolean ed25519Verifies(PublicKey key, byte[] signed, byte[] signature) {
        try {
            Signature verifier = Signature.getInstance("Ed25519");
            verifier.initVerify(key);
            verifier.update(signed);
            return verifier.verify(signature);
        } catch (GeneralSecurityException invalid) {
            return false;
        }
    }
}
