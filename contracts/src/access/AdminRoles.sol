// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {AccessControlEnumerable} from "@openzeppelin/contracts/access/extensions/AccessControlEnumerable.sol";

/// @title AdminRoles
/// @notice Shared base of the JINBI contracts: enumerable roles with at least one
///         DEFAULT_ADMIN_ROLE holder at all times.
/// @dev Role holders are readable through `getRoleMemberCount` and `getRoleMember`,
///      so a reconciler reads them without scanning logs.
abstract contract AdminRoles is AccessControlEnumerable {
    /// @notice An address argument that must be set is the zero address.
    error ZeroAddress();

    /// @notice Revoking or renouncing DEFAULT_ADMIN_ROLE from `account` would leave no admin.
    error LastAdminRemoval(address account);

    /// @param admin The first holder of DEFAULT_ADMIN_ROLE.
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @dev Both `revokeRole` and `renounceRole` end here, so one check covers both paths.
    function _revokeRole(bytes32 role, address account) internal virtual override returns (bool) {
        if (role == DEFAULT_ADMIN_ROLE && hasRole(role, account) && getRoleMemberCount(role) == 1) {
            revert LastAdminRemoval(account);
        }
        return super._revokeRole(role, account);
    }
}
