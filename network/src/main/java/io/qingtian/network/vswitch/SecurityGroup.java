package io.qingtian.network.vswitch;

import java.util.ArrayList;
import java.util.List;

/**
 * A named set of ingress allow rules shared by any number of ports. Ports hold a reference
 * to the group, so a rule added or removed here applies to the next new flow on every
 * port at once, without touching the ports.
 */
public final class SecurityGroup {
    private final String name;
    private final List<SecurityRule> rules = new ArrayList<>();

    SecurityGroup(String name) {
        this.name = name;
    }

    public String name() {
        return name;
    }

    public List<SecurityRule> rules() {
        return List.copyOf(rules);
    }

    boolean add(SecurityRule r) {
        if (rules.contains(r)) {
            return false;
        }
        return rules.add(r);
    }

    boolean remove(SecurityRule r) {
        return rules.remove(r);
    }

    boolean allows(int proto, int srcIp, int dstPort) {
        for (int i = 0; i < rules.size(); i++) {
            if (rules.get(i).matches(proto, srcIp, dstPort)) {
                return true;
            }
        }
        return false;
    }
}
