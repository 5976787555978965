//! mkoba's USSD channel: gateway dialects and the menu engine. Pure: no IO, no database, no HTTP.
//!
//! The menus themselves arrive with the USSD issue; this crate exists now so that the workspace
//! layout and the CI purity check that guards it are in place from the start.
