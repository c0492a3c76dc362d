//! Palletising a delivery (码垛): the lots picked for a sales order packed onto pallets, each
//! pallet one material (drums of a solvent-borne resin are not stacked with a water-borne
//! emulsion's; one material is also what a customer's goods-in checks against its order) and
//! at most the pallet's load in kilograms. A line heavier than what is left on a pallet is
//! split across pallets. Quantities in a unit that is not a weight (drums, pieces) cannot be
//! weighed: each such pick goes on a pallet of its own, marked unweighed. Pure: tested
//! natively.

/// One pick to palletise: the lot, where it is, how much (base unit) and that unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    pub material: String,
    pub material_name: String,
    pub lot: String,
    pub location: String,
    pub qty: f64,
    pub unit: String,
}

/// A pallet: what goes on it and its weight (None: not weighable).
#[derive(Debug, Clone, PartialEq)]
pub struct Pallet {
    pub n: usize,
    pub material: String,
    pub material_name: String,
    pub lines: Vec<Pick>,
    pub kg: Option<f64>,
}

/// Kilograms in one base unit, when it is a weight.
pub fn kg_per(unit: &str) -> Option<f64> {
    match unit.trim() {
        "kg" | "千克" | "公斤" => Some(1.0),
        "t" | "吨" => Some(1000.0),
        "g" | "克" => Some(0.001),
        _ => None,
    }
}

/// Packs the picks (in the order given: first expiring first) onto pallets of at most
/// `max_kg`, numbered from 1.
pub fn pack(picks: &[Pick], max_kg: f64) -> Vec<Pallet> {
    let mut out: Vec<Pallet> = Vec::new();
    for p in picks {
        let Some(per) = kg_per(&p.unit) else {
            out.push(Pallet {
                n: out.len() + 1,
                material: p.material.clone(),
                material_name: p.material_name.clone(),
                lines: vec![p.clone()],
                kg: None,
            });
            continue;
        };
        let mut left = p.qty;
        while left > 1e-9 {
            // the last pallet of this material, if it has room
            let open = out
                .last_mut()
                .filter(|x| x.material == p.material && x.kg.is_some_and(|kg| kg < max_kg - 1e-9));
            let pallet = match open {
                Some(x) => x,
                None => {
                    out.push(Pallet {
                        n: out.len() + 1,
                        material: p.material.clone(),
                        material_name: p.material_name.clone(),
                        lines: Vec::new(),
                        kg: Some(0.0),
                    });
                    out.last_mut().expect("just pushed")
                }
            };
            let room = (max_kg - pallet.kg.unwrap_or(0.0)) / per;
            let take = left.min(room);
            match pallet
                .lines
                .iter_mut()
                .find(|l| l.lot == p.lot && l.location == p.location)
            {
                Some(l) => l.qty += take,
                None => pallet.lines.push(Pick {
                    qty: take,
                    ..p.clone()
                }),
            }
            pallet.kg = Some(pallet.kg.unwrap_or(0.0) + take * per);
            left -= take;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(material: &str, lot: &str, qty: f64, unit: &str) -> Pick {
        Pick {
            material: material.into(),
            material_name: material.into(),
            lot: lot.into(),
            location: "WH-GEN/G-01".into(),
            qty,
            unit: unit.into(),
        }
    }

    #[test]
    fn lots_of_one_material_share_pallets_up_to_the_load() {
        let p = pack(
            &[
                pick("FG-WE200", "L1", 1500.0, "kg"),
                pick("FG-WE200", "L2", 700.0, "kg"),
            ],
            1000.0,
        );
        type Row<'a> = (usize, Vec<(&'a str, f64)>, Option<f64>);
        let got: Vec<Row> = p
            .iter()
            .map(|x| {
                (
                    x.n,
                    x.lines.iter().map(|l| (l.lot.as_str(), l.qty)).collect(),
                    x.kg,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (1, vec![("L1", 1000.0)], Some(1000.0)),
                (2, vec![("L1", 500.0), ("L2", 500.0)], Some(1000.0)),
                (3, vec![("L2", 200.0)], Some(200.0)),
            ]
        );
    }

    #[test]
    fn materials_are_not_mixed_and_unweighable_units_go_alone() {
        let p = pack(
            &[
                pick("FG-AR100", "A1", 300.0, "kg"),
                pick("FG-WE200", "W1", 0.2, "t"),
                pick("PK-DRUM", "D1", 40.0, "个"),
            ],
            1000.0,
        );
        assert_eq!(p.len(), 3);
        assert_eq!((p[0].material.as_str(), p[0].kg), ("FG-AR100", Some(300.0)));
        assert_eq!((p[1].material.as_str(), p[1].kg), ("FG-WE200", Some(200.0)));
        assert_eq!((p[2].material.as_str(), p[2].kg), ("PK-DRUM", None));
        assert_eq!(p[2].lines[0].qty, 40.0);
    }
}
