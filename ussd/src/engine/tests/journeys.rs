//! The money journeys end to end, with the exact English screens.

use super::*;

pub(super) const MAIN: &str =
    "Hi Amina\n1 Send money\n2 Withdraw cash\n3 Buy airtime\n4 Buy data & more\n\
                    5 Pay merchant\n6 My balance\n7 Approvals\n8 My account";
pub(super) const NAV: &str = "\n0 Back 00 Home";

pub(super) fn en() -> Session {
    Session::dial(&registered(Language::En), config(), World::typical())
}

/// Asserts each input's screen in turn.
pub(super) fn expect(session: &mut Session, steps: &[(&str, &str)]) {
    for (input, screen) in steps {
        let got = session.send(input).to_owned();
        assert_eq!(got, *screen, "after input {input:?}");
    }
}

#[test]
fn main_menu() {
    let s = en();
    assert_eq!(s.screen, MAIN);
    assert!(!s.ended);
}

#[test]
fn send_money() {
    let mut s = en();
    expect(
        &mut s,
        &[
            ("1", &format!("Enter phone number{NAV}")),
            (
                "0712345678",
                &format!("Send to JOHN D***\nEnter amount (KES){NAV}"),
            ),
            (
                "100",
                &format!("Send KES 100.00 to JOHN D***, fee 7.00. Enter PIN to confirm{NAV}"),
            ),
            (
                PIN,
                "Sent KES 100.00 to JOHN D***. Code QK7ZD3MPWA. Fee 7.00.\n\
                 Wrong number? Cancel within 25s in My account.\nBalance KES 893.00.",
            ),
        ],
    );
    assert!(s.ended);
    let Some(Effect::Execute {
        action,
        pin,
        step_key,
    }) = s.world.log.last()
    else {
        panic!("no execute: {:?}", s.world.log)
    };
    assert_eq!(
        action,
        &MoneyAction::Send {
            msisdn_text: "0712345678".to_owned(),
            amount: kes(10_000)
        }
    );
    assert_eq!(pin.expose(), PIN);
    assert_eq!(format!("{pin:?}"), "Pin(***)");
    assert_eq!(step_key, "ussd:6a1b2c3d:africastalking:ATUid_test:0:send");
}

#[test]
fn send_money_problems_are_explained_and_asked_again() {
    let mut s = en();
    s.send("1");
    assert_eq!(
        s.send("12"),
        format!("Invalid phone number.\nEnter phone number{NAV}")
    );
    assert_eq!(
        s.send("0700000000"),
        format!("That number is not on mkoba.\nEnter phone number{NAV}")
    );
    s.send("0712345678");
    assert_eq!(
        s.send("12.505"),
        format!(
            "Too many decimal places in the amount.\nSend to JOHN D***\nEnter amount (KES){NAV}"
        )
    );
    s.world.quote_rejection = Some(Rejection::InsufficientFunds);
    assert_eq!(
        s.send("100000"),
        format!(
            "You do not have enough money for this.\nSend to JOHN D***\nEnter amount (KES){NAV}"
        )
    );
    s.world.quote_rejection = Some(Rejection::SameAccount);
    assert_eq!(s.send("100"), "You cannot send money to yourself.");
    assert!(s.ended);
}

#[test]
fn wrong_pin_then_right_pin_uses_one_key() {
    let mut s = en();
    s.run(&["1", "0712345678", "100"]);
    assert_eq!(
        s.send("1111"),
        format!(
            "Wrong PIN. 2 tries left.\nSend KES 100.00 to JOHN D***, fee 7.00. Enter PIN to confirm{NAV}"
        )
    );
    assert_eq!(
        s.send("12"),
        format!(
            "The PIN must be 4 digits.\nSend KES 100.00 to JOHN D***, fee 7.00. Enter PIN to confirm{NAV}"
        )
    );
    s.send(PIN);
    assert!(s.screen.starts_with("Sent KES 100.00"));
    let keys: Vec<&str> = s
        .world
        .log
        .iter()
        .filter_map(|e| match e {
            Effect::Execute { step_key, .. } => Some(step_key.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(keys, ["ussd:6a1b2c3d:africastalking:ATUid_test:0:send"; 2]);
}

#[test]
fn locked_pin_ends_the_session() {
    let mut s = en();
    s.world.attempts_left = 0;
    s.run(&["6", "1111"]);
    assert_eq!(
        s.screen,
        "Your PIN is locked. Visit an mkoba agent with your ID to reset it."
    );
    assert!(s.ended);
}

#[test]
fn withdraw_cash() {
    let mut s = en();
    expect(
        &mut s,
        &[
            ("2", &format!("Enter agent number{NAV}")),
            ("A", &format!("Invalid code.\nEnter agent number{NAV}")),
            (
                "AG404",
                &format!("Unknown agent number.\nEnter agent number{NAV}"),
            ),
            (
                "AG101",
                &format!("Withdraw at Mama Mboga Shop\nEnter amount (KES){NAV}"),
            ),
            (
                "500",
                &format!(
                    "Withdraw KES 500.00 at Mama Mboga Shop, fee 7.00. Enter PIN to confirm{NAV}"
                ),
            ),
            (
                PIN,
                "Withdrawal of KES 500.00 at Mama Mboga Shop is ready. Show code QK7ZD3MPWA to \
                 the agent for your cash.\nBalance KES 893.00.",
            ),
        ],
    );
}

#[test]
fn withdraw_with_store_number() {
    let mut cfg = config();
    cfg.withdraw_asks_till = true;
    let mut s = Session::dial(&registered(Language::En), cfg, World::typical());
    s.run(&["2", "AG101"]);
    assert_eq!(s.screen, format!("Enter store number{NAV}"));
    s.send("2");
    assert_eq!(
        s.world.log.last(),
        Some(&Effect::LookupAgent {
            agent_code: "AG101".to_owned(),
            till: Some("2".to_owned())
        })
    );
    s.run(&["500", PIN]);
    assert!(s.screen.starts_with("Withdrawal of KES 500.00"));
}

#[test]
fn airtime_for_oneself_and_for_another_number() {
    let mut s = en();
    expect(
        &mut s,
        &[
            (
                "3",
                &format!("Airtime for your phone\nEnter amount (KES){NAV}"),
            ),
            (
                "50",
                &format!(
                    "Buy KES 50.00 airtime for your phone, fee 7.00. Enter PIN to confirm{NAV}"
                ),
            ),
            (
                PIN,
                "Bought KES 50.00 airtime for your phone. Code QK7ZD3MPWA.\nBalance KES 893.00.",
            ),
        ],
    );
    let mut s = en();
    expect(
        &mut s,
        &[
            (
                "4",
                &format!(
                    "Buy\n1 Airtime for another number\n2 Data bundles\n3 Articles, songs & games{NAV}"
                ),
            ),
            ("1", &format!("Enter the phone number to top up{NAV}")),
            ("0700000000", &format!("Airtime for 0700000000\nEnter amount (KES){NAV}")),
            ("20", &format!("Buy KES 20.00 airtime for 0700000000, fee 7.00. Enter PIN to confirm{NAV}")),
        ],
    );
    s.send(PIN);
    assert_eq!(
        s.world.log.last().map(|e| matches!(e, Effect::Execute { action: MoneyAction::BuyAirtime { msisdn_text: Some(n), .. }, .. } if n == "0700000000")),
        Some(true)
    );
}

#[test]
fn catalog_pages_and_buys_for_one_minor_unit() {
    let mut s = en();
    s.run(&["4", "3"]);
    assert_eq!(
        s.screen,
        format!("Choose a category\n1 Articles\n2 Songs\n3 Games\n4 Software{NAV}")
    );
    s.send("1");
    assert_eq!(
        s.screen,
        format!(
            "Articles\n1 Habari Daily KES 0.01\n2 Suzanna (song) KES 20.00\n3 Bao game KES 50.00\n\
             4 1GB daily KES 50.00\n5 5GB weekly KES 250.00\n98 More{NAV}"
        )
    );
    assert_eq!(
        s.world.log.last(),
        Some(&Effect::ListCatalog {
            category: Category::Article,
            offset: 0,
            limit: 5
        })
    );
    s.send("98");
    assert_eq!(
        s.screen,
        format!("Articles\n1 Office suite KES 1,500.00\n2 Kamusi KES 100.00{NAV}")
    );
    s.send("98");
    assert!(s
        .screen
        .starts_with("Invalid choice.\nArticles\n1 Office suite"));
    // Back to the first page without asking the server again.
    let asked = s.world.log.len();
    s.send("0");
    assert!(s.screen.starts_with("Articles\n1 Habari Daily KES 0.01"));
    assert_eq!(s.world.log.len(), asked);
    s.send("1");
    assert_eq!(
        s.screen,
        format!("Buy Habari Daily for KES 0.01. Enter PIN to confirm{NAV}")
    );
    s.send(PIN);
    assert_eq!(
        s.screen,
        "Bought Habari Daily for KES 0.01. Code QK7ZD3MPWA. It will come by SMS.\nBalance KES 893.00."
    );
}

#[test]
fn data_bundles_and_an_empty_catalog() {
    let mut s = en();
    s.run(&["4", "2"]);
    assert!(s
        .screen
        .starts_with("Data bundles\n1 Habari Daily KES 0.01"));
    let mut world = World::typical();
    world.products.clear();
    let mut s = Session::dial(&registered(Language::En), config(), world);
    s.run(&["4", "2"]);
    assert_eq!(s.screen, format!("Nothing is on sale here yet.{NAV}"));
    s.send("0");
    assert!(s.screen.starts_with("Buy\n"));
}

#[test]
fn pay_merchant_with_and_without_account_number() {
    let mut s = en();
    expect(
        &mut s,
        &[
            ("5", &format!("Enter merchant code{NAV}")),
            (
                "M404",
                &format!("Unknown merchant code.\nEnter merchant code{NAV}"),
            ),
            (
                "M001",
                &format!("Pay Safari Airtime & Data\nEnter amount (KES){NAV}"),
            ),
            (
                "100",
                &format!(
                    "Pay KES 100.00 to Safari Airtime & Data, fee 7.00. Enter PIN to confirm{NAV}"
                ),
            ),
            (
                PIN,
                "Paid KES 100.00 to Safari Airtime & Data. Code QK7ZD3MPWA.\nBalance KES 893.00.",
            ),
        ],
    );
    let mut world = World::typical();
    world.needs_reference = true;
    world.merchant_name = "Kenya Power".to_owned();
    let mut s = Session::dial(&registered(Language::En), config(), world);
    expect(
        &mut s,
        &[
            ("5", &format!("Enter merchant code{NAV}")),
            ("M002", &format!("Pay Kenya Power\nEnter account number{NAV}")),
            ("ACC-1234", &format!("Pay Kenya Power\nEnter amount (KES){NAV}")),
            ("1500", &format!("Pay KES 1,500.00 to Kenya Power for account ACC-1234, fee 7.00. Enter PIN to confirm{NAV}")),
        ],
    );
    s.send(PIN);
    assert!(matches!(
        s.world.log.last(),
        Some(Effect::Execute { action: MoneyAction::PayMerchant { reference: Some(r), .. }, .. }) if r == "ACC-1234"
    ));
}
