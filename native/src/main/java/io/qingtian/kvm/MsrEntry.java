package io.qingtian.kvm;

/** One struct kvm_msr_entry: a model-specific register and its value. */
public record MsrEntry(int index, long data) {
    @Override
    public String toString() {
        return String.format("msr 0x%x = 0x%x", index, data);
    }
}
