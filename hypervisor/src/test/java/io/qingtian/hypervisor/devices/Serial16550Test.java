package io.qingtian.hypervisor.devices;

import static io.qingtian.hypervisor.devices.Serial16550.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The 16550A register model, driven the way Linux's 8250 driver drives it. */
class Serial16550Test {
    private final RecordingIrq irq = new RecordingIrq();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final Serial16550 uart = new Serial16550(irq, out);

    @AfterEach
    void close() {
        uart.close();
    }

    private int in(int reg) {
        return (int) uart.read(reg, 1);
    }

    private void outb(int reg, int value) {
        uart.write(reg, 1, value);
    }

    private synchronized String output() {
        synchronized (out) {
            return out.toString(StandardCharsets.US_ASCII);
        }
    }

    @Test
    void transmitsAndFlushesOnNewline() {
        for (byte b : "hello\n".getBytes(StandardCharsets.US_ASCII)) {
            outb(RBR_THR_DLL, b);
        }
        assertThat(output()).isEqualTo("hello\n");
        outb(RBR_THR_DLL, '$');
        outb(RBR_THR_DLL, ' ');
        // (Whether "$ " is still buffered here depends on time: the pause flush comes 5 ms
        // after the last byte. ConsoleOutputTest checks the buffering without a clock.)
        uart.flush();
        assertThat(output()).isEqualTo("hello\n$ ");
    }

    @Test
    void flushesAPromptWhenTheGuestPauses() throws Exception {
        outb(RBR_THR_DLL, '#');
        long deadline = System.nanoTime() + 10_000_000_000L; // generous: this is behaviour, not speed
        while (!output().equals("#") && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(output()).isEqualTo("#");
    }

    @Test
    void lsrShowsTransmitterEmptyAndNeverReadsFF() {
        outb(MCR, MCR_DTR | MCR_RTS | MCR_OUT2); // the tty is open
        assertThat(in(LSR)).isEqualTo(LSR_THRE | LSR_TEMT);
        uart.queueInput(new byte[] {'x'});
        assertThat(in(LSR)).isEqualTo(LSR_THRE | LSR_TEMT | LSR_DR);
        assertThat(in(RBR_THR_DLL)).isEqualTo('x');
        assertThat(in(LSR)).isEqualTo(LSR_THRE | LSR_TEMT);
    }

    @Test
    void enablingThriRaisesThreAndReadingIirClearsIt() {
        // Linux serial8250_do_startup: IER=THRI, read IIR, IER=0, IER=THRI, read IIR again.
        outb(IER_DLM, IER_THRI);
        assertThat(irq.level()).isTrue();
        int iir1 = in(IIR_FCR);
        assertThat(iir1 & 0x0F).isEqualTo(IIR_THRI);
        assertThat(irq.level()).isFalse();
        assertThat(in(IIR_FCR) & 0x0F).isEqualTo(IIR_NO_INT);
        outb(IER_DLM, 0);
        outb(IER_DLM, IER_THRI);
        int iir = in(IIR_FCR);
        // The UART_BUG_THRE test: the interrupt must be re-asserted.
        assertThat(iir & IIR_NO_INT).isZero();
        assertThat(iir & 0x0F).isEqualTo(IIR_THRI);
        assertThat(irq.risingEdges()).isEqualTo(2);
    }

    @Test
    void everyTransmittedByteLeavesThrePending() {
        outb(IER_DLM, IER_THRI);
        in(IIR_FCR);
        assertThat(irq.level()).isFalse();
        outb(RBR_THR_DLL, 'a');
        assertThat(irq.level()).isTrue();
        assertThat(in(IIR_FCR) & 0x0F).isEqualTo(IIR_THRI);
    }

    @Test
    void iirReportsSourcesInPriorityOrder() {
        outb(IIR_FCR, FCR_ENABLE_FIFO); // trigger level 1
        outb(MCR, MCR_LOOP);
        in(MSR); // clear deltas from entering loopback
        for (int i = 0; i < FIFO_SIZE + 1; i++) {
            outb(RBR_THR_DLL, 'a' + i); // the 17th overruns
        }
        outb(MCR, MCR_LOOP | MCR_RTS); // CTS changes: modem status interrupt pending
        outb(IER_DLM, IER_RDI | IER_THRI | IER_RLSI | IER_MSI);

        assertThat(in(IIR_FCR)).isEqualTo(IIR_FIFO_ENABLED | IIR_RLSI);
        assertThat(in(LSR) & LSR_OE).isNotZero(); // reading LSR clears the line status
        assertThat(in(IIR_FCR)).isEqualTo(IIR_FIFO_ENABLED | IIR_RDI);
        for (int i = 0; i < FIFO_SIZE; i++) {
            assertThat(in(RBR_THR_DLL)).isEqualTo('a' + i);
        }
        assertThat(in(IIR_FCR)).isEqualTo(IIR_FIFO_ENABLED | IIR_THRI); // and this read clears it
        assertThat(in(IIR_FCR)).isEqualTo(IIR_FIFO_ENABLED | IIR_MSI);
        assertThat(in(MSR) & MSR_DCTS).isNotZero();
        assertThat(in(IIR_FCR)).isEqualTo(IIR_FIFO_ENABLED | IIR_NO_INT);
        assertThat(irq.level()).isFalse();
    }

    @Test
    void loopbackWiresModemControlToModemStatusAsAutoconfigExpects() {
        // Linux autoconfig: MCR = LOOP | OUT2 | RTS must give MSR top nibble 0x90.
        outb(MCR, MCR_LOOP | 0x0A);
        assertThat(in(MSR) & 0xF0).isEqualTo(0x90);
        outb(MCR, MCR_LOOP | MCR_DTR | MCR_OUT1);
        assertThat(in(MSR) & 0xF0).isEqualTo(MSR_DSR | MSR_RI);
        outb(MCR, MCR_LOOP);
        assertThat(in(MSR)).isEqualTo(MSR_DDSR | MSR_TERI); // DSR changed, RI fell
        outb(MCR, 0);
        assertThat(in(MSR) & 0xF0).isEqualTo(MSR_DCD | MSR_DSR | MSR_CTS);
    }

    @Test
    void loopbackSendsTransmittedBytesToTheReceiverNotTheHost() {
        outb(MCR, MCR_LOOP);
        outb(RBR_THR_DLL, 'z');
        uart.flush();
        assertThat(output()).isEmpty();
        assertThat(in(LSR) & LSR_DR).isNotZero();
        assertThat(in(RBR_THR_DLL)).isEqualTo('z');
    }

    @Test
    void rxFifoOverflowSetsOverrunError() {
        outb(IIR_FCR, FCR_ENABLE_FIFO);
        outb(MCR, MCR_LOOP);
        for (int i = 0; i < FIFO_SIZE; i++) {
            outb(RBR_THR_DLL, i);
        }
        assertThat(in(LSR) & LSR_OE).isZero();
        outb(RBR_THR_DLL, 0xEE);
        int lsr = in(LSR);
        assertThat(lsr & (LSR_OE | LSR_DR)).isEqualTo(LSR_OE | LSR_DR);
        assertThat(in(LSR) & LSR_OE).as("reading LSR clears OE").isZero();
        for (int i = 0; i < FIFO_SIZE; i++) {
            assertThat(in(RBR_THR_DLL)).isEqualTo(i); // the overrunning byte is the one lost
        }
        assertThat(in(LSR) & LSR_DR).isZero();
    }

    @Test
    void withoutFifoTheReceiverHoldsOneByte() {
        outb(MCR, MCR_LOOP);
        outb(RBR_THR_DLL, 1);
        outb(RBR_THR_DLL, 2);
        assertThat(in(LSR) & LSR_OE).isNotZero();
        assertThat(in(IIR_FCR) & 0xC0).isZero(); // 16450 mode: no FIFO bits in IIR
        assertThat(in(RBR_THR_DLL)).isEqualTo(1);
    }

    @Test
    void divisorLatchSharesOffsetsZeroAndOneWhileDlabIsSet() {
        outb(IER_DLM, IER_RDI);
        outb(LCR, LCR_DLAB | 0x03);
        outb(RBR_THR_DLL, 0x01);
        outb(IER_DLM, 0x00);
        assertThat(in(RBR_THR_DLL)).isEqualTo(0x01);
        assertThat(in(IER_DLM)).isEqualTo(0x00);
        uart.write(RBR_THR_DLL, 2, 0x0180); // a 16-bit OUT sets DLL and DLM together
        assertThat(uart.read(RBR_THR_DLL, 2)).isEqualTo(0x0180);
        outb(LCR, 0x03);
        assertThat(in(IER_DLM)).isEqualTo(IER_RDI);
        assertThat(in(LCR)).isEqualTo(0x03);
        uart.flush();
        assertThat(output()).isEmpty(); // DLL writes are not transmitted
    }

    @Test
    void hostInputRaisesReceiveInterrupts() {
        outb(MCR, MCR_DTR | MCR_RTS | MCR_OUT2); // the tty is open
        outb(IER_DLM, IER_RDI);
        uart.queueInput(new byte[] {'a'});
        assertThat(irq.level()).isTrue();
        assertThat(in(IIR_FCR)).isEqualTo(IIR_RDI);
        assertThat(in(RBR_THR_DLL)).isEqualTo('a');
        assertThat(irq.level()).isFalse();

        // FIFO mode, trigger level 8 (what Linux programs): fewer bytes report a timeout.
        outb(IIR_FCR, FCR_ENABLE_FIFO | 0x80);
        uart.queueInput("abc".getBytes(StandardCharsets.US_ASCII));
        assertThat(in(IIR_FCR)).isEqualTo(IIR_FIFO_ENABLED | IIR_RX_TIMEOUT);
        uart.queueInput("defgh".getBytes(StandardCharsets.US_ASCII));
        assertThat(in(IIR_FCR)).isEqualTo(IIR_FIFO_ENABLED | IIR_RDI);
        assertThat(irq.risingEdges()).isEqualTo(2);
    }

    @Test
    void inputBeyondTheFifoIsHeldBackNotLost() {
        outb(MCR, MCR_DTR | MCR_RTS | MCR_OUT2); // the tty is open
        outb(IIR_FCR, FCR_ENABLE_FIFO);
        byte[] paste = new byte[1000];
        for (int i = 0; i < paste.length; i++) {
            paste[i] = (byte) i;
        }
        uart.queueInput(paste);
        for (int i = 0; i < paste.length; i++) {
            assertThat(in(LSR) & LSR_DR).isNotZero();
            assertThat(in(RBR_THR_DLL)).isEqualTo(i & 0xFF);
        }
        assertThat(in(LSR) & (LSR_DR | LSR_OE)).isZero();
        assertThat(uart.droppedInput()).isZero();
    }

    @Test
    void inputFromAnotherThreadArrivesCompleteAndInOrder() throws Exception {
        outb(MCR, MCR_DTR | MCR_RTS | MCR_OUT2); // the tty is open
        outb(IIR_FCR, FCR_ENABLE_FIFO);
        int total = 20_000;
        Thread producer = Thread.ofPlatform().start(() -> {
            for (int i = 0; i < total; i += 100) {
                byte[] chunk = new byte[100];
                for (int j = 0; j < 100; j++) {
                    chunk[j] = (byte) (i + j);
                }
                uart.queueInput(chunk);
            }
        });
        List<Integer> got = new ArrayList<>();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (got.size() < total && System.nanoTime() < deadline) {
            if ((in(LSR) & LSR_DR) != 0) {
                got.add(in(RBR_THR_DLL));
            } else {
                Thread.onSpinWait();
            }
        }
        producer.join();
        assertThat(got).hasSize(total);
        for (int i = 0; i < total; i++) {
            assertThat(got.get(i)).isEqualTo(i & 0xFF);
        }
    }

    @Test
    void linuxAutoconfigDetectsA16550A() {
        // IER scratch test.
        outb(IER_DLM, 0);
        assertThat(in(IER_DLM) & 0x0F).isZero();
        outb(IER_DLM, 0x0F);
        assertThat(in(IER_DLM) & 0x0F).isEqualTo(0x0F);
        outb(IER_DLM, 0);
        // FIFO probe: IIR bits 7-6 == 3 means 16550A.
        outb(IIR_FCR, FCR_ENABLE_FIFO);
        assertThat(in(IIR_FCR) >> 6).isEqualTo(3);
        // No EFR (ST16C650): with LCR=0xBF, offset 2 must not read 0.
        outb(LCR, 0xBF);
        assertThat(in(IIR_FCR)).isNotZero();
        // Not a 16750: bit 5 stays clear even when 64-byte mode is requested.
        outb(LCR, 0);
        outb(IIR_FCR, FCR_ENABLE_FIFO | 0x20);
        assertThat(in(IIR_FCR) >> 5).isEqualTo(6);
        outb(LCR, LCR_DLAB);
        outb(IIR_FCR, FCR_ENABLE_FIFO | 0x20);
        assertThat(in(IIR_FCR) >> 5).isEqualTo(6);
        outb(LCR, 0);
        // Not an XScale: IER bit 6 (UUE) does not stick.
        outb(IER_DLM, 0x40);
        assertThat(in(IER_DLM) & 0x40).isZero();
        // Scratch register works.
        outb(SCR, 0xA5);
        assertThat(in(SCR)).isEqualTo(0xA5);
    }

    @Test
    void hostInputWaitsForRtsSoProbeAndStartupDoNotEatIt() {
        uart.queueInput("ls\n".getBytes(StandardCharsets.US_ASCII)); // piped in at VM start
        // Linux's 8250 probe and startup: loopback test, FIFO enable and clear, RTS still low.
        outb(MCR, MCR_LOOP | 0x0A);
        outb(MCR, 0);
        outb(IIR_FCR, FCR_ENABLE_FIFO | FCR_CLEAR_RCVR | FCR_CLEAR_XMIT);
        assertThat(in(LSR) & LSR_DR).isZero();
        outb(IIR_FCR, FCR_ENABLE_FIFO | FCR_CLEAR_RCVR | 0x80);
        outb(IER_DLM, IER_RDI);
        assertThat(irq.level()).isFalse();
        // The tty is opened: DTR and RTS go up, and the input arrives whole.
        outb(MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
        assertThat(irq.level()).isTrue();
        assertThat(in(RBR_THR_DLL)).isEqualTo('l');
        assertThat(in(RBR_THR_DLL)).isEqualTo('s');
        assertThat(in(RBR_THR_DLL)).isEqualTo('\n');
        assertThat(in(LSR) & LSR_DR).isZero();
    }

    @Test
    void droppingRtsStopsTheHostSending() {
        outb(IIR_FCR, FCR_ENABLE_FIFO);
        outb(MCR, MCR_RTS);
        uart.queueInput(new byte[] {1});
        outb(MCR, 0); // throttled
        uart.queueInput(new byte[] {2});
        assertThat(in(RBR_THR_DLL)).isEqualTo(1);
        assertThat(in(LSR) & LSR_DR).isZero();
        outb(MCR, MCR_RTS);
        assertThat(in(RBR_THR_DLL)).isEqualTo(2);
    }

    @Test
    void fifoClearDropsReceivedBytes() {
        outb(IIR_FCR, FCR_ENABLE_FIFO);
        outb(MCR, MCR_LOOP);
        outb(RBR_THR_DLL, 1);
        outb(IIR_FCR, FCR_ENABLE_FIFO | FCR_CLEAR_RCVR);
        assertThat(in(LSR) & LSR_DR).isZero();
    }

    @Test
    void aFailingHostStreamNeverReachesTheGuest() {
        OutputStream broken = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("broken pipe");
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                throw new IOException("broken pipe");
            }
        };
        try (Serial16550 u = new Serial16550(new RecordingIrq(), broken)) {
            for (int i = 0; i < 10_000; i++) {
                u.write(RBR_THR_DLL, 1, i % 3 == 0 ? '\n' : 'x');
            }
            u.flush();
            assertThat(u.read(LSR, 1) & LSR_THRE).isNotZero();
        }
    }
}
