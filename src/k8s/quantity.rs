//! resource.Quantity's canonical form. For now a quantity is passed through as written;
//! canonicalisation as apimachinery's ParseQuantity + String lands in its own commit.

/// The quantity as it will be served (today: as written).
pub fn canonical(s: &str) -> Result<String, String> {
    Ok(s.to_string())
}
