//! A fine-chemicals plant to run the demo without hardware: an acrylic-resin reactor R101
//! running batches (charge → heat → react with exotherm → hold → cool → discharge), its
//! agitator with a bearing whose vibration drifts into ISO 10816 zone C and back after
//! "maintenance", feed flow with a totaliser, a solvent tank farm, combustible / toxic /
//! oxygen gas detectors with occasional leaks, and utility meters for power, water and
//! steam. Deterministic for a given seed.

use std::f64::consts::TAU;

use crate::tags::model::{DataType, Value};

/// A signal the simulator offers, with what a tag for it should say.
pub struct Signal {
    pub name: &'static str,
    pub tag: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub unit: &'static str,
    pub data_type: DataType,
    pub area: &'static str,
    pub equipment: &'static str,
    pub range: (f64, f64),
    pub resolution: f64,
    pub deadband: f64,
    /// A set-point the plant takes from a write (recipes download to these).
    pub writable: bool,
}

/// A float signal: (name, tag), (zh, en), unit, (area, equipment), range, resolution.
const fn sig(
    (name, tag): (&'static str, &'static str),
    (zh, en): (&'static str, &'static str),
    unit: &'static str,
    (area, equipment): (&'static str, &'static str),
    range: (f64, f64),
    resolution: f64,
) -> Signal {
    Signal {
        name,
        tag,
        zh,
        en,
        unit,
        data_type: DataType::Float,
        area,
        equipment,
        range,
        resolution,
        deadband: 0.0,
        writable: false,
    }
}

/// Every signal, in the order `Plant::step` produces them.
pub const SIGNALS: &[Signal] = &[
    sig(
        ("r101.temperature", "R101.TT101"),
        ("R101 釜内温度", "R101 batch temperature"),
        "°C",
        ("resin", "R101"),
        (0.0, 200.0),
        0.01,
    ),
    sig(
        ("r101.jacket_temperature", "R101.TT102"),
        ("R101 夹套温度", "R101 jacket temperature"),
        "°C",
        ("resin", "R101"),
        (0.0, 200.0),
        0.01,
    ),
    sig(
        ("r101.pressure", "R101.PT101"),
        ("R101 釜压", "R101 pressure"),
        "MPa",
        ("resin", "R101"),
        (-0.1, 1.0),
        0.001,
    ),
    sig(
        ("r101.level", "R101.LT101"),
        ("R101 液位", "R101 level"),
        "%",
        ("resin", "R101"),
        (0.0, 100.0),
        0.01,
    ),
    sig(
        ("r101.agitator_current", "R101.M01.IT"),
        ("R101 搅拌电机电流", "R101 agitator current"),
        "A",
        ("resin", "R101-M01"),
        (0.0, 80.0),
        0.01,
    ),
    sig(
        ("r101.agitator_vibration", "R101.M01.VT"),
        ("R101 搅拌轴承振动速度", "R101 agitator bearing vibration"),
        "mm/s",
        ("resin", "R101-M01"),
        (0.0, 20.0),
        0.01,
    ),
    Signal {
        data_type: DataType::Int,
        ..sig(
            ("r101.phase", "R101.PHASE"),
            ("R101 批次阶段", "R101 batch phase"),
            "",
            ("resin", "R101"),
            (0.0, 6.0),
            1.0,
        )
    },
    Signal {
        data_type: DataType::Int,
        ..sig(
            ("r101.batch", "R101.BATCH"),
            ("R101 批次号", "R101 batch number"),
            "",
            ("resin", "R101"),
            (0.0, 1e9),
            1.0,
        )
    },
    sig(
        ("feed.flow", "FT101"),
        ("单体进料流量", "Monomer feed flow"),
        "m³/h",
        ("resin", "P101"),
        (0.0, 20.0),
        0.001,
    ),
    sig(
        ("feed.total", "FQ101"),
        ("单体进料累计", "Monomer feed total"),
        "m³",
        ("resin", "P101"),
        (0.0, 1e9),
        0.001,
    ),
    sig(
        ("tk201.level", "TK201.LT"),
        ("甲苯储罐液位", "Toluene tank level"),
        "%",
        ("tank_farm", "TK201"),
        (0.0, 100.0),
        0.01,
    ),
    sig(
        ("tk202.level", "TK202.LT"),
        ("乙酸乙酯储罐液位", "Ethyl acetate tank level"),
        "%",
        ("tank_farm", "TK202"),
        (0.0, 100.0),
        0.01,
    ),
    sig(
        ("gas.lel_tank_farm", "GD201"),
        ("罐区可燃气体", "Tank farm combustible gas"),
        "%LEL",
        ("tank_farm", "GD201"),
        (0.0, 100.0),
        0.1,
    ),
    sig(
        ("gas.lel_reactor", "GD101"),
        ("釜区可燃气体", "Reactor area combustible gas"),
        "%LEL",
        ("resin", "GD101"),
        (0.0, 100.0),
        0.1,
    ),
    sig(
        ("gas.toluene_ppm", "GD102"),
        ("釜区甲苯浓度", "Reactor area toluene"),
        "ppm",
        ("resin", "GD102"),
        (0.0, 500.0),
        0.1,
    ),
    sig(
        ("gas.oxygen", "GD103"),
        ("釜区氧含量", "Reactor area oxygen"),
        "%vol",
        ("resin", "GD103"),
        (0.0, 30.0),
        0.01,
    ),
    sig(
        ("power.kw", "EM01.P"),
        ("全厂有功功率", "Site active power"),
        "kW",
        ("utilities", "EM01"),
        (0.0, 5000.0),
        0.1,
    ),
    sig(
        ("power.kwh", "EM01.E"),
        ("全厂电能累计", "Site energy"),
        "kWh",
        ("utilities", "EM01"),
        (0.0, 1e12),
        0.1,
    ),
    sig(
        ("steam.flow", "FT301"),
        ("蒸汽流量", "Steam flow"),
        "t/h",
        ("utilities", "FT301"),
        (0.0, 10.0),
        0.001,
    ),
    sig(
        ("steam.total", "FQ301"),
        ("蒸汽累计", "Steam total"),
        "t",
        ("utilities", "FT301"),
        (0.0, 1e12),
        0.001,
    ),
    sig(
        ("water.flow", "FT401"),
        ("新鲜水流量", "Fresh water flow"),
        "m³/h",
        ("utilities", "FT401"),
        (0.0, 50.0),
        0.01,
    ),
    sig(
        ("water.total", "FQ401"),
        ("新鲜水累计", "Fresh water total"),
        "m³",
        ("utilities", "FT401"),
        (0.0, 1e12),
        0.01,
    ),
    sig(
        ("p101.vibration", "P101.VT"),
        ("P101 进料泵振动速度", "P101 feed pump vibration velocity"),
        "mm/s",
        ("resin", "P101"),
        (0.0, 50.0),
        0.01,
    ),
    sig(
        ("p101.bearing_temperature", "P101.TT"),
        ("P101 进料泵轴承温度", "P101 feed pump bearing temperature"),
        "°C",
        ("resin", "P101"),
        (0.0, 150.0),
        0.1,
    ),
    sig(
        ("p101.run_hours", "P101.RH"),
        ("P101 进料泵累计运行小时", "P101 feed pump run hours"),
        "h",
        ("resin", "P101"),
        (0.0, 1e7),
        0.01,
    ),
    // R101's set-points, as a recipe downloads them (see [`SETPOINTS`])
    Signal {
        writable: true,
        ..sig(
            ("r101.react_sp", "R101.TIC101.SP"),
            ("R101 反应温度设定", "R101 reaction temperature set-point"),
            "°C",
            ("resin", "R101"),
            (60.0, 110.0),
            0.1,
        )
    },
    Signal {
        writable: true,
        ..sig(
            ("r101.feed_sp", "R101.FIC101.SP"),
            ("R101 单体进料流量设定", "R101 monomer feed flow set-point"),
            "m³/h",
            ("resin", "P101"),
            (2.0, 20.0),
            0.1,
        )
    },
    Signal {
        writable: true,
        data_type: DataType::Int,
        ..sig(
            ("r101.hold_sp", "R101.HOLD.SP"),
            ("R101 保温时间设定", "R101 hold time set-point"),
            "min",
            ("resin", "R101"),
            (5.0, 240.0),
            1.0,
        )
    },
    // the warehouse's AGV, handed transport tasks through registers (the handshake is in
    // [`Agv`]); the box's warehouse plugin writes the task and reads its state
    Signal {
        writable: true,
        ..int(
            ("agv1.from", "AGV1.FROM"),
            ("AGV1 取货站点", "AGV1 pick-up station"),
            (0.0, 9999.0),
        )
    },
    Signal {
        writable: true,
        ..int(
            ("agv1.to", "AGV1.TO"),
            ("AGV1 卸货站点", "AGV1 drop-off station"),
            (0.0, 9999.0),
        )
    },
    Signal {
        writable: true,
        ..int(
            ("agv1.task", "AGV1.TASK"),
            (
                "AGV1 任务号（写入即下达，写 0 清除）",
                "AGV1 task number (written: start; 0: clear)",
            ),
            (0.0, 65535.0),
        )
    },
    int(
        ("agv1.state", "AGV1.STATE"),
        (
            "AGV1 状态（0 就绪 1 已接收 2 载货中 3 完成 4 故障）",
            "AGV1 state (0 ready, 1 accepted, 2 carrying, 3 done, 4 fault)",
        ),
        (0.0, 4.0),
    ),
    int(
        ("agv1.current", "AGV1.CUR"),
        ("AGV1 当前任务号", "AGV1 task in hand"),
        (0.0, 65535.0),
    ),
];

/// An integer signal of the AGV.
const fn int(
    names: (&'static str, &'static str),
    text: (&'static str, &'static str),
    range: (f64, f64),
) -> Signal {
    Signal {
        data_type: DataType::Int,
        ..sig(names, text, "", ("warehouse", "AGV1"), range, 1.0)
    }
}

/// An AGV taking transport tasks through registers, as a fleet controller does: the box
/// writes the pick-up and drop-off stations, then the task number; the AGV accepts it
/// (state 1, the task in `current`), travels to the pick-up, carries the load (2) and sets it
/// down (3: done), or reports a fault (4: stations missing or the same). It takes no other
/// task until the box clears the number (0), which returns it to ready (0). It runs on wall
/// time, whatever the process speed.
#[derive(Debug, Clone, Copy, Default)]
struct Agv {
    from: i64,
    to: i64,
    task: i64,
    state: i64,
    current: i64,
    /// Seconds in the present state.
    t: f64,
}

impl Agv {
    fn step(&mut self, dt: f64) {
        self.t += dt;
        match self.state {
            _ if self.task == 0 => {
                *self = Agv {
                    from: self.from,
                    to: self.to,
                    ..Agv::default()
                }
            }
            0 => {
                self.current = self.task;
                self.t = 0.0;
                self.state = if self.from <= 0 || self.to <= 0 || self.from == self.to {
                    4
                } else {
                    1
                };
            }
            // to the pick-up station, then to the drop-off (longer for stations further apart)
            1 if self.t >= 4.0 => (self.state, self.t) = (2, 0.0),
            2 if self.t >= (6.0 + (self.to - self.from).abs() as f64 * 0.5).min(20.0) => {
                (self.state, self.t) = (3, 0.0)
            }
            _ => {}
        }
    }
}

/// The writable signals and their values when the plant starts.
const SETPOINTS: [(&str, f64); 3] = [
    ("r101.react_sp", 85.0),
    ("r101.feed_sp", 11.5),
    ("r101.hold_sp", 15.0),
];

pub fn signal(name: &str) -> Option<&'static Signal> {
    SIGNALS.iter().find(|s| s.name == name)
}

/// Batch phases of R101 and their nominal lengths in seconds (at speed 1).
const PHASES: [(&str, f64); 7] = [
    ("idle", 300.0),
    ("charge", 900.0),
    ("heat", 1200.0),
    ("react", 2400.0),
    ("hold", 900.0),
    ("cool", 1200.0),
    ("discharge", 600.0),
];

/// xorshift64*: small, fast, deterministic noise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal noise (sum of uniforms) with standard deviation `sd`.
    fn noise(&mut self, sd: f64) -> f64 {
        let s: f64 = (0..4).map(|_| self.next()).sum::<f64>() - 2.0;
        s * sd * 1.732
    }
}

pub struct Plant {
    rng: Rng,
    speed: f64,
    phase: usize,
    phase_t: f64,
    batch: i64,
    temp: f64,
    jacket: f64,
    pressure: f64,
    level: f64,
    vibration_hours: f64,
    /// The feed pump (runs all the time, recirculating outside charge): bearing wear in
    /// process hours since its last overhaul, and its run-hour meter.
    pump_wear_hours: f64,
    pump_run_hours: f64,
    feed_total: f64,
    tk201: f64,
    tk202: f64,
    leak_left: f64,
    power_kwh: f64,
    steam_total: f64,
    water_total: f64,
    t: f64,
    /// [`SETPOINTS`] as written.
    sp: [f64; 3],
    agv: Agv,
}

impl Plant {
    pub fn new(seed: u64, speed: f64) -> Plant {
        Plant {
            rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            speed: speed.max(0.01),
            phase: 0,
            phase_t: 0.0,
            batch: 1000,
            temp: 25.0,
            jacket: 25.0,
            pressure: 0.0,
            level: 8.0,
            vibration_hours: 0.0,
            pump_wear_hours: 6.0,
            pump_run_hours: 11_820.0,
            feed_total: 12_840.0,
            tk201: 72.0,
            tk202: 64.0,
            leak_left: 0.0,
            power_kwh: 3_582_100.0,
            steam_total: 41_230.0,
            water_total: 88_410.0,
            t: 0.0,
            sp: SETPOINTS.map(|(_, v)| v),
            agv: Agv::default(),
        }
    }

    /// The same plant with its batch counter at `n` (the demo's history counts up to where
    /// the live plant starts).
    pub fn with_batch(mut self, n: i64) -> Plant {
        self.batch = n;
        self
    }

    /// Takes a write to a set-point, as the PLC would: only writable signals, inside their
    /// range.
    pub fn set(&mut self, signal: &str, v: f64) -> Result<(), String> {
        if let Some(slot) = match signal {
            "agv1.from" => Some(&mut self.agv.from),
            "agv1.to" => Some(&mut self.agv.to),
            "agv1.task" => Some(&mut self.agv.task),
            _ => None,
        } {
            let s = self::signal(signal).ok_or_else(|| format!("no signal {signal}"))?;
            if !v.is_finite() || v.fract() != 0.0 || v < s.range.0 || v > s.range.1 {
                return Err(format!(
                    "{v} is not a whole number in {signal}'s range {} … {}",
                    s.range.0, s.range.1
                ));
            }
            *slot = v as i64;
            return Ok(());
        }
        let i = SETPOINTS
            .iter()
            .position(|(n, _)| *n == signal)
            .ok_or_else(|| format!("{signal} is read-only"))?;
        let s = self::signal(signal).ok_or_else(|| format!("no signal {signal}"))?;
        if !v.is_finite() || v < s.range.0 || v > s.range.1 {
            return Err(format!(
                "{v} is outside {signal}'s range {} … {}",
                s.range.0, s.range.1
            ));
        }
        self.sp[i] = v;
        Ok(())
    }

    /// A phase's length in process seconds: the hold takes its set-point.
    fn phase_len(&self, phase: usize) -> f64 {
        if PHASES[phase].0 == "hold" {
            self.sp[2] * 60.0
        } else {
            PHASES[phase].1
        }
    }

    /// Advances the plant by `dt` seconds of wall time and returns every signal's value,
    /// in the order of [`SIGNALS`].
    pub fn step(&mut self, dt: f64) -> Vec<Value> {
        self.agv.step(dt);
        let dt_p = dt * self.speed; // process time
        self.t += dt_p;
        self.phase_t += dt_p;
        if self.phase_t >= self.phase_len(self.phase) {
            self.phase_t = 0.0;
            self.phase = (self.phase + 1) % PHASES.len();
            if self.phase == 0 {
                self.batch += 1;
            }
        }
        let progress = self.phase_t / self.phase_len(self.phase);
        let phase = PHASES[self.phase].0;

        // temperature set-point per phase, first-order response, exotherm while reacting
        let (target, tau) = match phase {
            "idle" | "charge" => (28.0, 600.0),
            "heat" => (self.sp[0] + 1.0, 350.0),
            "react" => (self.sp[0] + 4.0 * (progress * TAU * 1.5).sin(), 120.0),
            "hold" => (self.sp[0] - 1.0, 300.0),
            "cool" => (38.0, 400.0),
            _ => (36.0, 600.0),
        };
        let exotherm = if phase == "react" {
            3.5 * (1.0 - progress)
        } else {
            0.0
        };
        self.jacket += (target - 6.0 * exotherm - self.jacket) * (dt_p / 200.0).min(1.0);
        self.temp += (target + exotherm - self.temp) * (dt_p / tau).min(1.0);
        let temp = self.temp + self.rng.noise(0.08);
        let jacket = self.jacket + self.rng.noise(0.1);

        // level: charged, steady, then discharged
        let level_target = match phase {
            "idle" => 8.0,
            "charge" => 8.0 + 64.0 * progress,
            "discharge" => 72.0 - 64.0 * progress,
            _ => 72.0,
        };
        self.level += (level_target - self.level) * (dt_p / 20.0).min(1.0);
        let level = (self.level + self.rng.noise(0.15)).clamp(0.0, 100.0);

        // pressure follows temperature (solvent vapour) and the reaction
        let p_target = match phase {
            "heat" | "react" | "hold" => 0.02 + (self.temp - 30.0).max(0.0) * 0.0028,
            _ => 0.005,
        };
        self.pressure += (p_target - self.pressure) * (dt_p / 60.0).min(1.0);
        let pressure = self.pressure + self.rng.noise(0.0015);

        // agitator: current with viscosity, vibration drifting over ~6 h of operation into
        // zone C (> 4.5 mm/s, group 2 rigid) before "maintenance" resets it
        let running = phase != "idle";
        let current = if running {
            28.0 + 10.0 * (self.level / 72.0)
                + if phase == "react" {
                    6.0 * progress
                } else {
                    0.0
                }
        } else {
            0.0
        } + if running { self.rng.noise(0.4) } else { 0.0 };
        self.vibration_hours += dt_p / 3600.0;
        if self.vibration_hours > 6.0 {
            self.vibration_hours = 0.0;
        }
        let wear = 1.6 + 3.6 * (self.vibration_hours / 6.0).powi(2);
        let vibration = if running {
            (wear + self.rng.noise(0.04)).max(0.0)
        } else {
            0.05 + self.rng.noise(0.02).abs()
        };

        // feed during charge; tanks supply the solvent and are refilled by truck
        let flow = if phase == "charge" {
            self.sp[1] + self.rng.noise(0.2)
        } else {
            0.0
        };
        self.feed_total += flow.max(0.0) * dt_p / 3600.0;
        if phase == "charge" {
            self.tk201 -= 0.0012 * dt_p;
            self.tk202 -= 0.0008 * dt_p;
        }
        if self.tk201 < 22.0 {
            self.tk201 = 86.0;
        }
        if self.tk202 < 22.0 {
            self.tk202 = 84.0;
        }

        // gas: background noise, a small leak now and then near the tank farm
        // (leaks follow wall time, about one every two hours, whatever the batch speed)
        if self.leak_left <= 0.0 && self.rng.next() < dt / 7200.0 {
            self.leak_left = 240.0;
        }
        let leak = if self.leak_left > 0.0 {
            self.leak_left -= dt;
            32.0 * (1.0 - (self.leak_left / 240.0 - 0.5).abs() * 2.0)
        } else {
            0.0
        };
        let lel_tank = (1.2 + leak + self.rng.noise(0.4)).max(0.0);
        let lel_reactor =
            (0.8 + if phase == "charge" { 1.5 } else { 0.0 } + self.rng.noise(0.3)).max(0.0);
        let toluene =
            (4.0 + if phase == "charge" { 6.0 } else { 0.0 } + self.rng.noise(0.8)).max(0.0);
        let oxygen = 20.9 + self.rng.noise(0.03);

        // utilities
        // site base load, the agitator motor (√3·0.38 kV·I·cos φ 0.85), a daily swing
        let kw = 420.0
            + 0.56 * current.max(0.0)
            + 80.0 * (self.t / 86_400.0 * TAU).sin()
            + self.rng.noise(6.0);
        self.power_kwh += kw * dt_p / 3600.0;
        let steam = match phase {
            "heat" => 2.4,
            "react" | "hold" => 0.6,
            _ => 0.15,
        } + self.rng.noise(0.03);
        self.steam_total += steam.max(0.0) * dt_p / 3600.0;
        let water = 8.0 + if phase == "cool" { 14.0 } else { 0.0 } + self.rng.noise(0.3);

        // feed pump: its vibration rises with bearing wear through zone B into zone C
        // (2.8 mm/s, group 2 rigid) over eight process hours, then an overhaul resets it
        self.pump_wear_hours += dt_p / 3600.0;
        if self.pump_wear_hours > 8.0 {
            self.pump_wear_hours = 0.0;
        }
        self.pump_run_hours += dt_p / 3600.0;
        let pump_wear = (self.pump_wear_hours / 8.0).powf(1.5);
        let pump_vibration = (1.2 + 2.2 * pump_wear + self.rng.noise(0.015)).max(0.0);
        let pump_bearing = 52.0 + 14.0 * pump_wear + self.rng.noise(0.3);
        self.water_total += water.max(0.0) * dt_p / 3600.0;

        let values = vec![
            Value::Float(temp),
            Value::Float(jacket),
            Value::Float(pressure),
            Value::Float(level),
            Value::Float(current.max(0.0)),
            Value::Float(vibration),
            Value::Int(self.phase as i64),
            Value::Int(self.batch),
            Value::Float(flow.max(0.0)),
            Value::Float(self.feed_total),
            Value::Float(self.tk201 + self.rng.noise(0.05)),
            Value::Float(self.tk202 + self.rng.noise(0.05)),
            Value::Float(lel_tank),
            Value::Float(lel_reactor),
            Value::Float(toluene),
            Value::Float(oxygen),
            Value::Float(kw.max(0.0)),
            Value::Float(self.power_kwh),
            Value::Float(steam.max(0.0)),
            Value::Float(self.steam_total),
            Value::Float(water.max(0.0)),
            Value::Float(self.water_total),
            Value::Float(pump_vibration),
            Value::Float(pump_bearing),
            Value::Float(self.pump_run_hours),
            Value::Float(self.sp[0]),
            Value::Float(self.sp[1]),
            Value::Int(self.sp[2] as i64),
            Value::Int(self.agv.from),
            Value::Int(self.agv.to),
            Value::Int(self.agv.task),
            Value::Int(self.agv.state),
            Value::Int(self.agv.current),
        ];
        // instruments report to their resolution
        values
            .into_iter()
            .zip(SIGNALS)
            .map(|(v, s)| match v {
                Value::Float(f) => Value::Float((f / s.resolution).round() * s.resolution),
                other => other,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_has_a_value_and_stays_in_range() {
        let mut p = Plant::new(7, 60.0);
        for _ in 0..2_000 {
            let v = p.step(1.0);
            assert_eq!(v.len(), SIGNALS.len());
            for (s, v) in SIGNALS.iter().zip(&v) {
                let x = v.as_f64().unwrap();
                assert!(x.is_finite(), "{}", s.name);
                assert!(x >= s.range.0 && x <= s.range.1, "{} = {x}", s.name);
            }
        }
    }

    #[test]
    fn set_points_are_taken_in_range_and_steer_the_batch() {
        let mut p = Plant::new(1, 1.0);
        assert!(
            p.set("r101.temperature", 50.0)
                .unwrap_err()
                .contains("read-only")
        );
        assert!(p.set("r101.react_sp", 150.0).unwrap_err().contains("range"));
        p.set("r101.react_sp", 95.0).unwrap();
        p.set("r101.hold_sp", 30.0).unwrap();
        let i = SIGNALS
            .iter()
            .position(|s| s.name == "r101.react_sp")
            .unwrap();
        let mut max_t: f64 = 0.0;
        let mut hold_s: f64 = 0.0;
        for _ in 0..(7500 / 10 + 200) {
            let v = p.step(10.0);
            assert_eq!(v[i].as_f64(), Some(95.0));
            max_t = max_t.max(v[0].as_f64().unwrap());
            if v[6] == Value::Int(4) {
                hold_s += 10.0;
            }
        }
        assert!(
            max_t > 93.0,
            "the reaction runs at the new set-point: {max_t}"
        );
        assert!(
            (hold_s - 1800.0).abs() <= 10.0,
            "the hold takes 30 min: {hold_s}"
        );
    }

    #[test]
    fn a_batch_heats_reacts_and_cools() {
        let mut p = Plant::new(1, 1.0);
        let mut max_t: f64 = 0.0;
        let mut batches = std::collections::BTreeSet::new();
        // two full cycles at 10 s steps
        for _ in 0..(2 * 7500 / 10) {
            let v = p.step(10.0);
            max_t = max_t.max(v[0].as_f64().unwrap());
            if let Value::Int(b) = v[7] {
                batches.insert(b);
            }
        }
        assert!(max_t > 84.0 && max_t < 95.0, "peak {max_t}");
        assert!(batches.len() >= 2);
        assert!(p.temp < 60.0 || p.phase >= 2);
    }

    #[test]
    fn the_agv_takes_a_task_carries_it_and_waits_to_be_cleared() {
        let mut p = Plant::new(1, 10.0);
        let at = |name: &str| SIGNALS.iter().position(|s| s.name == name).unwrap();
        let (state, current) = (at("agv1.state"), at("agv1.current"));
        assert_eq!(p.step(1.0)[state], Value::Int(0), "ready");
        assert!(p.set("agv1.state", 3.0).unwrap_err().contains("read-only"));
        assert!(
            p.set("agv1.task", 1.5)
                .unwrap_err()
                .contains("whole number")
        );
        p.set("agv1.from", 11.0).unwrap();
        p.set("agv1.to", 12.0).unwrap();
        p.set("agv1.task", 7.0).unwrap();
        let v = p.step(0.0);
        assert_eq!((&v[state], &v[current]), (&Value::Int(1), &Value::Int(7)));
        let mut seen = Vec::new();
        for _ in 0..30 {
            let s = p.step(1.0)[state].clone();
            if seen.last() != Some(&s) {
                seen.push(s);
            }
        }
        assert_eq!(seen, [Value::Int(1), Value::Int(2), Value::Int(3)]);
        // another task is not taken until this one is cleared
        p.set("agv1.task", 8.0).unwrap();
        assert_eq!(p.step(1.0)[current], Value::Int(7));
        p.set("agv1.task", 0.0).unwrap();
        let v = p.step(0.0);
        assert_eq!((&v[state], &v[current]), (&Value::Int(0), &Value::Int(0)));
        // the same station twice is a fault
        p.set("agv1.to", 11.0).unwrap();
        p.set("agv1.task", 9.0).unwrap();
        assert_eq!(p.step(0.0)[state], Value::Int(4));
    }

    #[test]
    fn the_same_seed_gives_the_same_plant() {
        let a: Vec<Vec<Value>> = (0..50)
            .scan(Plant::new(3, 1.0), |p, _| Some(p.step(1.0)))
            .collect();
        let b: Vec<Vec<Value>> = (0..50)
            .scan(Plant::new(3, 1.0), |p, _| Some(p.step(1.0)))
            .collect();
        assert_eq!(a, b);
    }
}
