//! The demo's people: who they are, which devices they use, whether and how they sign up.

use super::rng::Rng;

const FIRST_NAMES: [&str; 16] = [
    "Alice", "Bob", "Carol", "Dan", "Erin", "Femi", "Grace", "Hiro", "Ines", "Jonas", "Kemal",
    "Lena", "Mateo", "Nora", "Omar", "Priya",
];
const LAST_NAMES: [&str; 12] = [
    "Smith", "Garcia", "Müller", "Rossi", "Tanaka", "Okafor", "Novak", "Silva", "Dubois",
    "Kowalski", "Jensen", "Haddad",
];
const COUNTRIES: [&str; 8] = ["US", "US", "US", "DE", "GB", "FR", "BR", "JP"];
const DOMAINS: [&str; 5] = [
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "proton.me",
    "example.org",
];
/// What people type into sign-up forms when they do not want to give an address: identity
/// resolution must not merge everyone who typed one.
pub(crate) const PLACEHOLDER_EMAILS: [&str; 3] = ["test@test.com", "noreply@example.com", "none"];

/// One browser or phone.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    /// The SDK's anonymous id on it.
    pub anonymous_id: String,
    /// `context.device.id`.
    pub device_id: String,
    /// A phone (screen views) or a browser (page views).
    pub mobile: bool,
}

/// A known customer (someone who signed up).
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub user_id: String,
    pub email: String,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub country: &'static str,
    pub plan: &'static str,
    pub email_consent: bool,
    pub ads_consent: bool,
    /// The email is one of [`PLACEHOLDER_EMAILS`].
    pub placeholder_email: bool,
}

/// One person of the demo.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub index: u32,
    pub devices: Vec<Device>,
    /// `None` for visitors who never sign up.
    pub account: Option<Account>,
    /// The first device is the previous person's (a family computer).
    pub shares_first_device: bool,
    /// How engaged they are: scales visits, purchases and email activity.
    pub activity: f64,
}

/// The demo's user id of person `index` (also used to recognise an earlier demo database).
pub(crate) fn user_id(index: u32) -> String {
    format!("demo-user-{index:07}")
}

/// Person `index` of the demo with `seed`. A few people share a device with the person
/// before them (a family computer): that device's anonymous id then carries two user ids.
pub(crate) fn person(seed: u64, index: u32) -> Person {
    let mut rng = Rng::new(seed, u64::from(index));
    let device_count = 1 + usize::from(rng.chance(0.45)) + usize::from(rng.chance(0.15));
    let mut devices: Vec<Device> = (0..device_count).map(|_| device(&mut rng)).collect();
    let signs_up = rng.chance(0.6);
    let shares_first_device = signs_up && index > 0 && rng.chance(0.02);
    if shares_first_device {
        // Person index - 1's first device: its generator draws the device count first.
        let mut previous = Rng::new(seed, u64::from(index - 1));
        previous.chance(0.45);
        previous.chance(0.15);
        devices[0] = device(&mut previous);
    }
    let account = signs_up.then(|| account(&mut rng, index));
    let activity = 0.3 + rng.unit() * rng.unit() * 3.0;
    Person {
        index,
        devices,
        account,
        shares_first_device,
        activity,
    }
}

fn device(rng: &mut Rng) -> Device {
    Device {
        anonymous_id: rng.token(),
        device_id: rng.token(),
        mobile: rng.chance(0.4),
    }
}

fn account(rng: &mut Rng, index: u32) -> Account {
    let first_name = *rng.pick(&FIRST_NAMES);
    let last_name = *rng.pick(&LAST_NAMES);
    let placeholder_email = rng.chance(0.01);
    let email = if placeholder_email {
        (*rng.pick(&PLACEHOLDER_EMAILS)).to_owned()
    } else {
        format!(
            "{}.{}{index}@{}",
            first_name.to_lowercase(),
            ascii(last_name).to_lowercase(),
            rng.pick(&DOMAINS)
        )
    };
    let plan = match rng.below(10) {
        0..=5 => "free",
        6..=8 => "pro",
        _ => "enterprise",
    };
    Account {
        user_id: user_id(index),
        email,
        first_name,
        last_name,
        country: COUNTRIES[rng.below(COUNTRIES.len() as u64) as usize],
        plan,
        email_consent: rng.chance(0.7),
        ads_consent: rng.chance(0.4),
        placeholder_email,
    }
}

/// `Müller` → `Muller` for email addresses.
fn ascii(name: &str) -> String {
    name.replace('ü', "u")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_device_is_the_previous_persons_first() {
        let sharer = (1..10_000)
            .map(|i| person(3, i))
            .find(|p| p.shares_first_device)
            .expect("about 1% share a device");
        let previous = person(3, sharer.index - 1);
        assert_eq!(
            sharer.devices[0].anonymous_id,
            previous.devices[0].anonymous_id
        );
    }
}
