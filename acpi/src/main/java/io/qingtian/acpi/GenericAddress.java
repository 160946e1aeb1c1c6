package io.qingtian.acpi;

/**
 * Generic Address Structure (ACPI 6.4 section 5.2.3.2, Table 5.1): where a register lives.
 *
 * @param spaceId    0 system memory, 1 system I/O
 * @param bitWidth   register width in bits
 * @param bitOffset  bit offset of the register at the address
 * @param accessSize 0 undefined (legacy), 1 byte, 2 word, 3 dword, 4 qword
 * @param address    the register's address in its space
 */
public record GenericAddress(int spaceId, int bitWidth, int bitOffset, int accessSize, long address) {
    public static final int SYSTEM_MEMORY = 0;
    public static final int SYSTEM_IO = 1;
    public static final GenericAddress NONE = new GenericAddress(0, 0, 0, 0, 0);

    /** A register block in I/O space with legacy (undefined) access size, as FADT PM blocks use. */
    public static GenericAddress io(int port, int lengthBytes) {
        return new GenericAddress(SYSTEM_IO, lengthBytes * 8, 0, 0, port);
    }
}
