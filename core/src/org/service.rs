//! The rules of the enterprise profile and departments; the only writer of `org.*`.

use super::model::{Contact, Department, EnterpriseType, INDUSTRIES, Profile};
use super::store::{DEPARTMENTS, PROFILE};
use super::uscc::{self, UsccError};
use crate::error::{self, Error, Result};
use crate::i18n::Msg;
use crate::store::{Actor, Change, Reader, Store};

const PROFILE_KEY: &str = "profile";

pub fn profile(r: &impl Reader) -> Result<Profile> {
    Ok(r.get(&PROFILE, &PROFILE_KEY.to_string())?
        .unwrap_or_default())
}

/// The enterprise type, once the profile names one.
pub fn enterprise_type(r: &impl Reader) -> Result<Option<EnterpriseType>> {
    Ok(profile(r)?.enterprise_type)
}

/// Checks a credit code and turns each failure into a message that says what to fix.
pub fn check_credit_code(code: &str) -> Result<String> {
    uscc::validate(code).map_err(|e| {
        let msg = match e {
            UsccError::Length(n) => Msg::new("org.err.credit_code_length").arg("n", n),
            UsccError::BadChar { pos, ch } => Msg::new("org.err.credit_code_char")
                .arg("pos", pos)
                .arg("ch", ch),
            UsccError::Header => Msg::new("org.err.credit_code_header"),
            UsccError::Division => Msg::new("org.err.credit_code_division"),
            UsccError::OrgCode => Msg::new("org.err.credit_code_org"),
            UsccError::Check { expected, found } => Msg::new("org.err.credit_code_check")
                .arg("expected", expected)
                .arg("found", found),
        };
        Error::invalid_msg("credit_code", msg)
    })
}

/// Validates and stores the profile. Nothing is written when any field is invalid.
pub fn save_profile(store: &Store, actor: &Actor, input: Profile) -> Result<Profile> {
    let p = Profile {
        company_name: error::text("company_name", &input.company_name, 100, true)?,
        credit_code: check_credit_code(&input.credit_code)?,
        industry: {
            let code = input.industry.trim().to_string();
            if !code.is_empty() && !INDUSTRIES.iter().any(|(c, _, _)| *c == code) {
                return Err(Error::invalid("industry", "org.err.industry"));
            }
            code
        },
        industry_note: error::text("industry_note", &input.industry_note, 100, false)?,
        address: error::text("address", &input.address, 200, true)?,
        legal_rep: error::text("legal_rep", &input.legal_rep, 50, true)?,
        legal_rep_phone: error::phone("legal_rep_phone", &input.legal_rep_phone)?,
        it_lead: error::text("it_lead", &input.it_lead, 50, false)?,
        it_lead_phone: error::phone("it_lead_phone", &input.it_lead_phone)?,
        contacts: input
            .contacts
            .iter()
            .filter(|c| {
                !(c.name.trim().is_empty() && c.role.trim().is_empty() && c.phone.trim().is_empty())
            })
            .map(|c| {
                Ok(Contact {
                    name: error::text("contacts", &c.name, 50, true)?,
                    role: error::text("contacts", &c.role, 50, false)?,
                    phone: error::phone("contacts", &c.phone)?,
                })
            })
            .collect::<Result<Vec<_>>>()?,
        main_products: error::text("main_products", &input.main_products, 500, false)?,
        process_flow: error::text("process_flow", &input.process_flow, 2000, false)?,
        enterprise_type: Some(
            input
                .enterprise_type
                .ok_or_else(|| Error::invalid("enterprise_type", "org.err.enterprise_type"))?,
        ),
        output_value_wan: non_negative("output_value_wan", input.output_value_wan)?,
        employees: input.employees,
        area_mu: non_negative("area_mu", input.area_mu)?,
        updated_ms: crate::util::now_ms(),
    };
    if p.contacts.len() > 20 {
        return Err(Error::invalid("contacts", "org.err.too_many_contacts"));
    }
    let mut w = store.write(actor)?;
    let before = profile(&w)?;
    w.insert(&PROFILE, &PROFILE_KEY.to_string(), &p)?;
    w.audit(
        "org.profile.update",
        "profile",
        Change::updated(summary(&before), summary(&p)),
    );
    w.commit()?;
    Ok(p)
}

fn non_negative(field: &'static str, v: Option<f64>) -> Result<Option<f64>> {
    match v {
        Some(x) if !x.is_finite() || x < 0.0 => {
            Err(Error::invalid(field, "common.err.non_negative"))
        }
        other => Ok(other),
    }
}

/// The audit summary of a profile: everything but the timestamp.
fn summary(p: &Profile) -> serde_json::Value {
    let mut v = serde_json::to_value(p).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("updated_ms");
    }
    v
}

pub fn departments(r: &impl Reader) -> Result<Vec<Department>> {
    Ok(r.values(&DEPARTMENTS)?)
}

pub fn department(r: &impl Reader, id: u64) -> Result<Option<Department>> {
    Ok(r.get(&DEPARTMENTS, &id)?)
}

pub fn create_department(
    store: &Store,
    actor: &Actor,
    name: &str,
    head: &str,
) -> Result<Department> {
    let name = error::text("name", name, 50, true)?;
    let head = error::text("head", head, 100, false)?;
    let mut w = store.write(actor)?;
    if departments(&w)?.iter().any(|d| d.name == name) {
        return Err(Error::invalid("name", "org.err.department_exists"));
    }
    let d = Department {
        id: w.next_id(&DEPARTMENTS)?,
        name,
        head,
    };
    w.insert(&DEPARTMENTS, &d.id, &d)?;
    w.audit(
        "org.department.create",
        format!("department:{} {}", d.id, d.name),
        Change::created(&d),
    );
    w.commit()?;
    Ok(d)
}

pub fn update_department(
    store: &Store,
    actor: &Actor,
    id: u64,
    name: &str,
    head: &str,
) -> Result<Department> {
    let name = error::text("name", name, 50, true)?;
    let head = error::text("head", head, 100, false)?;
    let mut w = store.write(actor)?;
    let before = w
        .get(&DEPARTMENTS, &id)?
        .ok_or_else(|| Error::not_found("org.err.department_not_found"))?;
    if departments(&w)?
        .iter()
        .any(|d| d.name == name && d.id != id)
    {
        return Err(Error::invalid("name", "org.err.department_exists"));
    }
    let d = Department { id, name, head };
    w.insert(&DEPARTMENTS, &id, &d)?;
    w.audit(
        "org.department.update",
        format!("department:{} {}", d.id, d.name),
        Change::updated(&before, &d),
    );
    w.commit()?;
    Ok(d)
}

/// Deletes a department nobody belongs to. `members` is how many users still name it
/// (the caller asks the auth service; org never reads auth tables).
pub fn delete_department(store: &Store, actor: &Actor, id: u64, members: usize) -> Result<()> {
    if members > 0 {
        return Err(Error::Conflict(
            Msg::new("org.err.department_in_use").arg("n", members),
        ));
    }
    let mut w = store.write(actor)?;
    let before = w
        .remove(&DEPARTMENTS, &id)?
        .ok_or_else(|| Error::not_found("org.err.department_not_found"))?;
    w.audit(
        "org.department.delete",
        format!("department:{} {}", id, before.name),
        Change::deleted(&before),
    );
    w.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;

    fn valid() -> Profile {
        Profile {
            company_name: "兰溪宏达精细化工有限公司".into(),
            credit_code: "91440300708461136t".into(),
            address: "浙江省兰溪市".into(),
            legal_rep: "张建国".into(),
            enterprise_type: Some(EnterpriseType::InPark),
            ..Default::default()
        }
    }

    #[test]
    fn saves_normalised_profile_and_audits() {
        let (_d, s) = temp_store();
        let p = save_profile(&s, &Actor::system("t"), valid()).unwrap();
        assert_eq!(p.credit_code, "91440300708461136T");
        assert_eq!(
            profile(&s.read().unwrap()).unwrap().company_name,
            p.company_name
        );
        let log = crate::store::audit::search(&s.read().unwrap(), &Default::default(), 10).unwrap();
        assert_eq!(log[0].action, "org.profile.update");
    }

    #[test]
    fn invalid_profile_changes_nothing() {
        let (_d, s) = temp_store();
        save_profile(&s, &Actor::system("t"), valid()).unwrap();
        let mut bad = valid();
        bad.company_name = "另一个名字".into();
        bad.credit_code = "91440300708461136X".into();
        match save_profile(&s, &Actor::system("t"), bad) {
            Err(Error::Invalid { field, msg }) => {
                assert_eq!(field, "credit_code");
                assert_eq!(msg.key, "org.err.credit_code_check");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            profile(&s.read().unwrap()).unwrap().company_name,
            "兰溪宏达精细化工有限公司"
        );
    }

    #[test]
    fn departments_in_use_stay() {
        let (_d, s) = temp_store();
        let a = Actor::system("t");
        let d = create_department(&s, &a, "生产部", "").unwrap();
        assert!(create_department(&s, &a, "生产部", "").is_err());
        assert!(matches!(
            delete_department(&s, &a, d.id, 2),
            Err(Error::Conflict(_))
        ));
        delete_department(&s, &a, d.id, 0).unwrap();
        assert!(departments(&s.read().unwrap()).unwrap().is_empty());
    }
}
