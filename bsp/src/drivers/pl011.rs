//! ARM PrimeCell PL011 UART (ARM DDI 0183), transmit polled, receive interrupt-driven.
//!
//! Received bytes go from the hardware FIFO into a lock-free [`ByteRing`] in the interrupt
//! handler. When the ring is full the handler masks the receive interrupts instead of dropping
//! bytes; the reader unmasks them once it has made room, so the hardware FIFO (and, under QEMU,
//! the host side of the serial line) holds the rest: a long paste or script loses nothing.

use rtos::ring::ByteRing;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! [u32,
    /// Data register.
    DR [
        /// Received or transmitted byte.
        DATA OFFSET(0) NUMBITS(8) [],
        /// Framing error on this byte.
        FE OFFSET(8) NUMBITS(1) [],
        /// Parity error on this byte.
        PE OFFSET(9) NUMBITS(1) [],
        /// Break condition.
        BE OFFSET(10) NUMBITS(1) [],
        /// Overrun: the FIFO was full and a byte was lost by the hardware.
        OE OFFSET(11) NUMBITS(1) []
    ],
    /// Flag register.
    FR [
        /// Transmit FIFO empty.
        TXFE OFFSET(7) NUMBITS(1) [],
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// Busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    /// Integer baud rate divisor.
    IBRD [ BAUD_DIVINT OFFSET(0) NUMBITS(16) [] ],
    /// Fractional baud rate divisor.
    FBRD [ BAUD_DIVFRAC OFFSET(0) NUMBITS(6) [] ],
    /// Line control.
    LCR_H [
        /// Word length.
        WLEN OFFSET(5) NUMBITS(2) [ FiveBit = 0, SixBit = 1, SevenBit = 2, EightBit = 3 ],
        /// Enable FIFOs.
        FEN OFFSET(4) NUMBITS(1) []
    ],
    /// Control.
    CR [
        /// Receive enable.
        RXE OFFSET(9) NUMBITS(1) [],
        /// Transmit enable.
        TXE OFFSET(8) NUMBITS(1) [],
        /// UART enable.
        UARTEN OFFSET(0) NUMBITS(1) []
    ],
    /// FIFO interrupt level select.
    IFLS [
        /// Receive interrupt at FIFO fill level.
        RXIFLSEL OFFSET(3) NUMBITS(3) [ OneEighth = 0, OneQuarter = 1, OneHalf = 2 ],
        /// Transmit interrupt level.
        TXIFLSEL OFFSET(0) NUMBITS(3) []
    ],
    /// Interrupt mask set/clear, raw status, masked status and clear share this layout.
    INT [
        /// Overrun error.
        OE OFFSET(10) NUMBITS(1) [],
        /// Receive timeout: bytes waiting in the FIFO below the fill level.
        RT OFFSET(6) NUMBITS(1) [],
        /// Transmit.
        TX OFFSET(5) NUMBITS(1) [],
        /// Receive fill level reached.
        RX OFFSET(4) NUMBITS(1) []
    ]
];

register_structs! {
    /// PL011 register block.
    pub Registers {
        (0x00 => dr: ReadWrite<u32, DR::Register>),
        (0x04 => _rsr_ecr),
        (0x18 => fr: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x24 => ibrd: WriteOnly<u32, IBRD::Register>),
        (0x28 => fbrd: WriteOnly<u32, FBRD::Register>),
        (0x2c => lcr_h: WriteOnly<u32, LCR_H::Register>),
        (0x30 => cr: WriteOnly<u32, CR::Register>),
        (0x34 => ifls: WriteOnly<u32, IFLS::Register>),
        (0x38 => imsc: ReadWrite<u32, INT::Register>),
        (0x3c => ris: ReadOnly<u32, INT::Register>),
        (0x40 => mis: ReadOnly<u32, INT::Register>),
        (0x44 => icr: WriteOnly<u32, INT::Register>),
        (0x48 => @END),
    }
}

/// Receive buffer size: a 100-line script pasted at 115200 baud (about 8 KiB) fits twice.
pub const RX_BUFFER: usize = 16 * 1024;

/// Driver for one PL011.
pub struct Pl011 {
    base: usize,
    rx: ByteRing<RX_BUFFER>,
    /// Bytes the hardware reported as lost (overrun) or damaged (framing/parity/break).
    rx_errors: core::sync::atomic::AtomicU32,
    /// Ctrl-C bytes received (a running shell command stops on one: the console's sleeps wake
    /// when this moves).
    ctrl_c: core::sync::atomic::AtomicU32,
}

impl Pl011 {
    /// Wraps the UART at `base`.
    ///
    /// # Safety
    /// `base` must be the address of a PL011 register block mapped as Device memory for the
    /// kernel's lifetime, and no other driver instance may exist for it.
    pub const unsafe fn new(base: usize) -> Self {
        Self {
            base,
            rx: ByteRing::new(),
            rx_errors: core::sync::atomic::AtomicU32::new(0),
            ctrl_c: core::sync::atomic::AtomicU32::new(0),
        }
    }

    fn regs(&self) -> &Registers {
        // SAFETY: `new`'s caller guaranteed a live, exclusively owned PL011 block at `base`;
        // every register access is a volatile MMIO access through tock-registers.
        unsafe { &*(self.base as *const Registers) }
    }

    /// Programs 115200 8N1 from a `clock_hz` reference clock, FIFOs on, receive interrupts on.
    pub fn init(&self, clock_hz: u32) {
        // Keep bytes that arrived before us: changing LCR_H.FEN below empties the receive FIFO.
        while !self.regs().fr.is_set(FR::RXFE) && self.rx.push(self.regs().dr.read(DR::DATA) as u8)
        {
        }
        self.regs().cr.set(0);
        while self.regs().fr.is_set(FR::BUSY) {}
        // Divisor = clock / (16 * baud), as 16.6 fixed point, rounded.
        let div64 = (u64::from(clock_hz) * 4).div_ceil(115_200);
        self.regs()
            .ibrd
            .write(IBRD::BAUD_DIVINT.val((div64 >> 6) as u32));
        self.regs()
            .fbrd
            .write(FBRD::BAUD_DIVFRAC.val((div64 & 0x3f) as u32));
        self.regs()
            .lcr_h
            .write(LCR_H::WLEN::EightBit + LCR_H::FEN::SET);
        self.regs().ifls.write(IFLS::RXIFLSEL::OneQuarter);
        self.regs().icr.set(0x7ff);
        self.regs().imsc.write(INT::RX::SET + INT::RT::SET);
        self.regs()
            .cr
            .write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }

    /// Sends one byte, waiting for room in the transmit FIFO.
    pub fn put(&self, byte: u8) {
        while self.regs().fr.is_set(FR::TXFF) {
            core::hint::spin_loop();
        }
        self.regs().dr.set(u32::from(byte));
    }

    /// Waits until everything written has left the transmitter.
    pub fn flush(&self) {
        while !self.regs().fr.is_set(FR::TXFE) || self.regs().fr.is_set(FR::BUSY) {
            core::hint::spin_loop();
        }
    }

    /// Kernel reload: receive interrupts off (the next kernel turns them on again), and
    /// everything written sent.
    pub fn quiesce(&self) {
        self.regs().imsc.set(0);
        self.flush();
    }

    /// Interrupt handler: moves received bytes into the ring. Masks receive interrupts when the
    /// ring is full (back-pressure) rather than dropping bytes.
    pub fn handle_irq(&self) {
        loop {
            if self.regs().fr.is_set(FR::RXFE) {
                break;
            }
            if self.rx.len() >= self.rx.capacity() {
                // Leave RX/RT pending: they fire again once `try_get` unmasks them.
                self.regs().imsc.set(0);
                return;
            }
            let dr = self.regs().dr.extract();
            if dr.matches_any(&[DR::OE::SET, DR::BE::SET, DR::FE::SET, DR::PE::SET]) {
                self.rx_errors
                    .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
                if dr.is_set(DR::BE) || dr.is_set(DR::FE) {
                    continue;
                }
            }
            let byte = dr.read(DR::DATA) as u8;
            self.rx.push(byte);
            if byte == 0x03 {
                self.ctrl_c
                    .fetch_add(1, core::sync::atomic::Ordering::Release);
            }
        }
        // RX and RT clear themselves as the FIFO empties. Clearing them here would lose the
        // interrupt of a byte that arrived after the last RXFE check (QEMU raises RX only when a
        // byte lands in an empty FIFO). Only the overrun flag needs an explicit clear.
        self.regs().icr.write(INT::OE::SET);
    }

    /// Takes one received byte, if any, and re-arms reception if back-pressure had stopped it.
    pub fn try_get(&self) -> Option<u8> {
        let byte = self.rx.pop();
        if self.regs().imsc.get() == 0 && self.rx.len() < self.rx.capacity() / 2 {
            self.regs().imsc.write(INT::RX::SET + INT::RT::SET);
        }
        byte
    }

    /// Whether a received byte is waiting.
    pub fn has_input(&self) -> bool {
        !self.rx.is_empty()
    }

    /// Bytes waiting in the receive buffer.
    pub fn rx_buffered(&self) -> usize {
        self.rx.len()
    }

    /// Bytes lost or damaged on the line so far.
    pub fn rx_errors(&self) -> u32 {
        self.rx_errors.load(core::sync::atomic::Ordering::Relaxed)
    }

    /// Ctrl-C bytes received so far.
    pub fn ctrl_c_count(&self) -> u32 {
        self.ctrl_c.load(core::sync::atomic::Ordering::Acquire)
    }
}
