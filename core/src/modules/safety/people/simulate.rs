//! The demo plant's people and vehicles: when the feed settings say `simulate`, the
//! registered people with tags walk between the zones they may enter (1.2 m/s, pausing at
//! each stop), leave and return through the gates now and then, and the vehicles come and
//! go through the logistics gate. Everything goes through the same paths as real feeds
//! (`Live::ingest`, `record_gate_event`), so the demo exercises them.

use std::sync::Arc;
use std::time::Duration;

use super::live::live;
use super::model::{Direction, Method, Zone};
use super::service::{self as ps, GateInput};
use super::tracking::Update;
use crate::app::App;
use crate::store::Actor;
use crate::util::now_ms;

struct Rng(u64);
impl Rng {
    fn f(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Walker {
    tag: String,
    badge: String,
    x: f64,
    y: f64,
    to: (f64, f64),
    /// Standing until then (ms).
    pause_until: i64,
    inside: bool,
    /// Outside the plant until then (ms).
    back_at: i64,
    /// People on a post stay near it.
    home: Option<(f64, f64)>,
}

struct Car {
    plate: String,
    inside: bool,
    next_ms: i64,
}

struct Sim {
    rng: Rng,
    walkers: Vec<Walker>,
    cars: Vec<Car>,
    stops: Vec<(f64, f64)>,
    /// The perimeter gate people use, and the logistics gate for vehicles.
    gate: String,
    truck_gate: String,
    gate_xy: (f64, f64),
}

fn centre(z: &Zone) -> (f64, f64) {
    let n = z.polygon.len() as f64;
    let (x, y) = z
        .polygon
        .iter()
        .fold((0.0, 0.0), |(a, b), [x, y]| (a + x, b + y));
    (x / n, y / n)
}

impl Sim {
    fn new(app: &App) -> Option<Sim> {
        let r = app.store.read().ok()?;
        let people = ps::people(&r).ok()?;
        let zones = ps::zones(&r).ok()?;
        let gates = ps::gates(&r).ok()?;
        let map = ps::map(&r).ok()?;
        let vehicles = ps::vehicles(&r).ok()?;
        let (posts, assignments) = (ps::posts(&r).ok()?, ps::assignments(&r).ok()?);
        drop(r);
        let home_of = |person: u64| {
            let a = assignments.iter().find(|a| a.person == person)?;
            let post = posts.iter().find(|p| p.id == a.post)?;
            zones.iter().find(|z| z.id == post.zone).map(centre)
        };
        let perimeter: Vec<_> = gates.iter().filter(|g| g.area == "plant").collect();
        let gate = perimeter.first()?.code.clone();
        let truck_gate = perimeter.last()?.code.clone();
        let mut rng = Rng(now_ms() as u64 | 1);
        // stops: the centres of zones anyone may enter, and points along the roads
        let mut stops: Vec<(f64, f64)> = zones
            .iter()
            .filter(|z| !z.rules.permit_required)
            .map(centre)
            .collect();
        for _ in 0..12 {
            stops.push((rng.f() * map.width_m, rng.f() * map.height_m * 0.2));
        }
        if stops.is_empty() {
            return None;
        }
        let gate_xy = (map.width_m * 0.5, 5.0);
        let walkers = people
            .iter()
            .filter(|p| p.enabled && !p.tag.is_empty())
            .map(|p| {
                let (x, y) = stops[(rng.f() * stops.len() as f64) as usize % stops.len()];
                Walker {
                    tag: p.tag.clone(),
                    badge: p.badge.clone(),
                    x: (x + rng.f() * 6.0 - 3.0).clamp(0.0, map.width_m),
                    y: (y + rng.f() * 6.0 - 3.0).clamp(0.0, map.height_m),
                    to: (x, y),
                    pause_until: 0,
                    inside: false,
                    back_at: 0,
                    home: home_of(p.id),
                }
            })
            .collect();
        let now = now_ms();
        let cars = vehicles
            .iter()
            .enumerate()
            .map(|(i, v)| Car {
                plate: v.plate.clone(),
                inside: false,
                next_ms: now + i as i64 * 20_000,
            })
            .collect();
        Some(Sim {
            rng,
            walkers,
            cars,
            stops,
            gate,
            truck_gate,
            gate_xy,
        })
    }

    fn gate_event(
        &self,
        app: &App,
        gate: &str,
        direction: Direction,
        method: Method,
        credential: &str,
    ) {
        let input = GateInput {
            gate: gate.to_string(),
            direction,
            method,
            credential: credential.to_string(),
            at_ms: None,
        };
        let today = crate::plant_time::today(app.offset);
        match ps::record_gate_event(
            &app.store,
            &Actor::system("simulator"),
            input,
            "simulator",
            now_ms(),
            today,
        ) {
            Ok(e) => live(app).gate_event(app, &e),
            Err(e) => tracing::debug!(error = %e, "simulated gate event refused"),
        }
    }

    /// One second of the plant.
    fn step(&mut self, app: &App) {
        let now = now_ms();
        let mut updates = Vec::new();
        let mut events = Vec::new();
        for i in 0..self.walkers.len() {
            let r = self.rng.f();
            let w = &mut self.walkers[i];
            if !w.inside {
                if now >= w.back_at {
                    w.inside = true;
                    (w.x, w.y) = self.gate_xy;
                    events.push((Direction::In, w.badge.clone()));
                }
                continue;
            }
            // about one person an hour each leaves for a while
            if r < 1.0 / 3600.0 {
                w.inside = false;
                w.back_at = now + 600_000 + (r * 3.6e9) as i64 % 1_200_000;
                events.push((Direction::Out, w.badge.clone()));
                continue;
            }
            if now >= w.pause_until {
                let (dx, dy) = (w.to.0 - w.x, w.to.1 - w.y);
                let d = (dx * dx + dy * dy).sqrt();
                if d <= 1.2 {
                    (w.x, w.y) = w.to;
                    let s = match w.home {
                        Some(h) => h,
                        None => {
                            self.stops[(self.rng.f() * self.stops.len() as f64) as usize
                                % self.stops.len()]
                        }
                    };
                    let w = &mut self.walkers[i];
                    w.to = (
                        s.0 + self.rng.f() * 8.0 - 4.0,
                        s.1 + self.rng.f() * 8.0 - 4.0,
                    );
                    w.pause_until = now + 20_000 + (self.rng.f() * 100_000.0) as i64;
                } else {
                    w.x += dx / d * 1.2;
                    w.y += dy / d * 1.2;
                }
            }
            let w = &self.walkers[i];
            updates.push(Update {
                tag: w.tag.clone(),
                // ±0.5 m of positioning noise
                x: (w.x + self.rng.f() - 0.5).max(0.0),
                y: (w.y + self.rng.f() - 0.5).max(0.0),
                floor: 0,
                at_ms: Some(now),
                sos: false,
            });
        }
        for (d, badge) in events {
            if !badge.is_empty() {
                let method = if self.rng.f() < 0.7 {
                    Method::Face
                } else {
                    Method::Card
                };
                self.gate_event(app, &self.gate.clone(), d, method, &badge);
            }
        }
        for i in 0..self.cars.len() {
            if now < self.cars[i].next_ms {
                continue;
            }
            let c = &mut self.cars[i];
            c.inside = !c.inside;
            let d = if c.inside {
                Direction::In
            } else {
                Direction::Out
            };
            // trucks stay 20–60 minutes, then are away 30–90 minutes
            let wait = if c.inside { 1_200_000 } else { 1_800_000 };
            c.next_ms = now + wait + (self.rng.f() * 2_400_000.0) as i64;
            let plate = self.cars[i].plate.clone();
            self.gate_event(app, &self.truck_gate.clone(), d, Method::Plate, &plate);
        }
        live(app).ingest(app, &updates);
    }
}

/// Runs while the appliance runs; simulates only while the feed settings ask for it.
pub async fn run(app: Arc<App>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sim: Option<Sim> = None;
    loop {
        tick.tick().await;
        let on = app.registry.is_enabled("safety")
            && app
                .store
                .read()
                .ok()
                .and_then(|r| ps::feed(&r).ok())
                .is_some_and(|f| f.simulate);
        if !on {
            sim = None;
            continue;
        }
        let a = app.clone();
        let taken = sim.take();
        sim = tokio::task::spawn_blocking(move || {
            let mut s = taken.or_else(|| Sim::new(&a))?;
            s.step(&a);
            Some(s)
        })
        .await
        .ok()
        .flatten();
    }
}
