package io.qingtian.network.cli;

import io.qingtian.network.service.NetworkClient;
import io.qingtian.network.service.NetworkRequest;
import java.nio.file.Path;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "sg", description = "Stateful security groups: ingress allow rules, default deny ingress.")
final class SgCommands extends NetworkCommands.Group {
    @Command(name = "create", description = "Create an empty security group.")
    static final class Create extends NetworkCommands.Leaf {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        Create(Function<Path, NetworkClient> c) {
            super(c);
        }

        @Override
        NetworkRequest request() {
            return new NetworkRequest.SgCreate(name);
        }
    }

    @Command(name = "rule", description = "Add or remove ingress rules (take effect on new flows at once).")
    static final class Rule extends NetworkCommands.Group {}

    abstract static class RuleLeaf extends NetworkCommands.Leaf {
        @Parameters(index = "0", paramLabel = "SG")
        String group;
        @Option(names = "--proto", required = true, description = "tcp, udp or icmp.")
        String proto;
        @Option(names = "--ports", paramLabel = "A-B", description = "Destination port or range (tcp/udp; default all).")
        String ports;
        @Option(names = "--from", required = true, paramLabel = "CIDR", description = "Source addresses.")
        String from;

        RuleLeaf(Function<Path, NetworkClient> c) {
            super(c);
        }
    }

    @Command(name = "add", description = "Allow ingress matching protocol, ports and source.")
    static final class RuleAdd extends RuleLeaf {
        RuleAdd(Function<Path, NetworkClient> c) {
            super(c);
        }

        @Override
        NetworkRequest request() {
            return new NetworkRequest.SgRuleAdd(group, proto, ports, from);
        }
    }

    @Command(name = "remove", description = "Remove a rule (established flows continue).")
    static final class RuleRemove extends RuleLeaf {
        RuleRemove(Function<Path, NetworkClient> c) {
            super(c);
        }

        @Override
        NetworkRequest request() {
            return new NetworkRequest.SgRuleRemove(group, proto, ports, from);
        }
    }
}
