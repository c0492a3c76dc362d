//! Maps and label sheets of plugin views, made ready for the template (pure): an SVG map's
//! extent, stroke and font sizes in its own units, each area's points and label place; a
//! label's QR code as SVG. The template draws them; nothing here is HTML from the plugin.

use serde_json::{Value, json};

use super::runtime::view::{Block, Labels, Map, MapBackground, Tone, View, WidgetContent};

/// The safety module's plant layout, when a plugin may draw on it.
#[derive(Debug, Clone)]
pub struct Layout {
    pub width_m: f64,
    pub height_m: f64,
    /// Where the browser fetches the image; none: no image uploaded (a grid is drawn).
    pub image: Option<String>,
}

fn tone(t: Tone) -> &'static str {
    match t {
        Tone::Neutral => "neutral",
        Tone::Good => "good",
        Tone::Warn => "warn",
        Tone::Bad => "bad",
    }
}

/// Whether the view has a map or a label sheet to prepare.
pub fn needed(v: &View) -> bool {
    v.blocks.iter().any(|b| match b {
        Block::Map(_) | Block::Labels(_) => true,
        Block::Board(board) => board
            .widgets
            .iter()
            .any(|w| matches!(w.content, WidgetContent::Map(_))),
        _ => false,
    })
}

/// Whether the view has a plant-layout map (the route then looks the layout up).
pub fn wants_layout(v: &View) -> bool {
    let on_layout = |m: &Map| m.background == MapBackground::PlantLayout;
    v.blocks.iter().any(|b| match b {
        Block::Map(m) => on_layout(m),
        Block::Board(board) => board
            .widgets
            .iter()
            .any(|w| matches!(&w.content, WidgetContent::Map(m) if on_layout(m))),
        _ => false,
    })
}

/// A map as the template draws it. `id` keeps its grid pattern apart from other maps'.
pub fn map(m: &Map, layout: Option<&Layout>, id: usize) -> Value {
    let lay = layout.filter(|_| m.background == MapBackground::PlantLayout);
    let (w, h) = lay.map_or((f64::from(m.width), f64::from(m.height)), |l| {
        (l.width_m, l.height_m)
    });
    let unit = w.max(h) / 200.0;
    let image = lay.and_then(|l| l.image.clone());
    let grid = if image.is_some() {
        0.0
    } else if lay.is_some() && m.grid <= 0.0 {
        10.0
    } else {
        f64::from(m.grid)
    };
    let areas: Vec<Value> = m
        .areas
        .iter()
        .map(|a| {
            let n = a.points.len().max(1) as f64;
            let cx = a.points.iter().map(|p| f64::from(p.x)).sum::<f64>() / n;
            let cy = a.points.iter().map(|p| f64::from(p.y)).sum::<f64>() / n;
            let points: Vec<String> = a
                .points
                .iter()
                .map(|p| format!("{},{}", p.x, p.y))
                .collect();
            json!({
                "points": points.join(" "), "cx": cx, "cy": cy, "label": a.label,
                "hint": if a.hint.is_empty() { &a.label } else { &a.hint },
                "tone": tone(a.tone), "href": a.href,
            })
        })
        .collect();
    let markers: Vec<Value> = m
        .markers
        .iter()
        .map(|x| {
            json!({
                "x": x.at.x, "y": x.at.y, "label": x.label,
                "hint": if x.hint.is_empty() { &x.label } else { &x.hint },
                "tone": tone(x.tone), "href": x.href,
            })
        })
        .collect();
    json!({
        "id": id, "w": w, "h": h, "grid": grid, "image": image,
        "stroke": unit / 3.0, "font": unit * 4.4, "r": unit * 1.6,
        "areas": areas, "markers": markers,
    })
}

/// A label sheet with each label's QR code as SVG.
pub fn labels(l: &Labels) -> Value {
    let items: Vec<Value> = l
        .items
        .iter()
        .map(|x| {
            json!({
                "code": x.code, "title": x.title, "lines": x.lines,
                "qr": qr(&x.code),
            })
        })
        .collect();
    json!({ "columns": l.columns, "items": items })
}

fn qr(text: &str) -> String {
    qrcode::QrCode::new(text.as_bytes())
        .map(|q| {
            q.render::<qrcode::render::svg::Color>()
                .min_dimensions(120, 120)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default()
}

/// The view as JSON for the template, its maps and label sheets prepared.
pub fn prepare(v: &View, layout: Option<&Layout>) -> serde_json::Result<Value> {
    let mut out = serde_json::to_value(v)?;
    let mut id = 0;
    let mut next = || {
        id += 1;
        id
    };
    let Some(blocks) = out.get_mut("blocks").and_then(Value::as_array_mut) else {
        return Ok(out);
    };
    for (b, slot) in v.blocks.iter().zip(blocks.iter_mut()) {
        match b {
            Block::Map(m) => slot["Map"] = map(m, layout, next()),
            Block::Labels(l) => slot["Labels"] = labels(l),
            Block::Board(board) => {
                for (w, ws) in board.widgets.iter().zip(
                    slot["Board"]["widgets"]
                        .as_array_mut()
                        .map(|a| a.iter_mut())
                        .into_iter()
                        .flatten(),
                ) {
                    if let WidgetContent::Map(m) = &w.content {
                        ws["content"]["Map"] = map(m, layout, next());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::runtime::view::{Area, Label, Marker, Xy};

    fn store_map(background: MapBackground) -> Map {
        Map {
            width: 40.0,
            height: 20.0,
            background,
            grid: 5.0,
            areas: vec![Area {
                label: "A-01".into(),
                points: vec![
                    Xy { x: 0.0, y: 0.0 },
                    Xy { x: 10.0, y: 0.0 },
                    Xy { x: 10.0, y: 6.0 },
                    Xy { x: 0.0, y: 6.0 },
                ],
                tone: Tone::Warn,
                hint: String::new(),
                href: "/x/warehouse/bin?code=A-01".into(),
            }],
            markers: vec![Marker {
                label: "P-1".into(),
                at: Xy { x: 3.0, y: 4.0 },
                tone: Tone::Good,
                hint: "pallet".into(),
                href: String::new(),
            }],
        }
    }

    #[test]
    fn a_map_is_drawn_in_its_own_units_and_on_the_layout_when_there_is_one() {
        let m = map(&store_map(MapBackground::Grid), None, 1);
        assert_eq!((m["w"].as_f64(), m["h"].as_f64()), (Some(40.0), Some(20.0)));
        assert_eq!(m["grid"], 5.0);
        let a = &m["areas"][0];
        assert_eq!(a["points"], "0,0 10,0 10,6 0,6");
        assert_eq!((a["cx"].as_f64(), a["cy"].as_f64()), (Some(5.0), Some(3.0)));
        assert_eq!(a["hint"], "A-01", "the label stands in for a missing hint");
        assert_eq!(a["tone"], "warn");
        assert_eq!(m["markers"][0]["hint"], "pallet");

        let layout = Layout {
            width_m: 300.0,
            height_m: 200.0,
            image: Some("/x/twin/map/layout".into()),
        };
        let m = map(&store_map(MapBackground::PlantLayout), Some(&layout), 2);
        assert_eq!(
            (m["w"].as_f64(), m["h"].as_f64()),
            (Some(300.0), Some(200.0))
        );
        assert_eq!(m["grid"], 0.0, "no grid over the layout image");
        assert_eq!(m["image"], "/x/twin/map/layout");
        // a grid map ignores the layout
        let m = map(&store_map(MapBackground::Grid), Some(&layout), 3);
        assert_eq!(m["w"].as_f64(), Some(40.0));
        assert!(m["image"].is_null());
    }

    #[test]
    fn labels_carry_their_qr_code() {
        let l = labels(&Labels {
            columns: 3,
            items: vec![Label {
                code: "NX:LOC:WH1/A-01".into(),
                title: "A-01".into(),
                lines: vec!["原料库".into()],
            }],
        });
        let svg = l["items"][0]["qr"].as_str().unwrap();
        assert!(
            svg.starts_with("<?xml") || svg.contains("<svg"),
            "{svg:.60}"
        );
        assert_eq!(l["columns"], 3);
    }
}
